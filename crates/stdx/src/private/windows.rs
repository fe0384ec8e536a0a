//! A protected DACL that allows the user, SYSTEM and Administrators (the
//! access of a user profile's own folders), nothing inherited from above;
//! a folder's entries are inherited by what is made in it.
#![allow(unsafe_code)]

use super::Kind;
use std::ffi::c_void;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, GENERIC_ALL, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    GetNamedSecurityInfoW, SetNamedSecurityInfoW, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    AddAccessAllowedAceEx, CreateWellKnownSid, EqualSid, GetAce, GetLengthSid, GetTokenInformation,
    InitializeAcl, TokenUser, WinBuiltinAdministratorsSid, WinLocalSystemSid, ACCESS_ALLOWED_ACE,
    ACE_HEADER, ACL, ACL_REVISION, CONTAINER_INHERIT_ACE, DACL_SECURITY_INFORMATION,
    OBJECT_INHERIT_ACE, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SECURITY_MAX_SID_SIZE, TOKEN_QUERY, TOKEN_USER, WELL_KNOWN_SID_TYPE,
};
use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

pub(super) fn dir_builder() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    builder
}

pub(super) fn open_options() -> std::fs::OpenOptions {
    std::fs::OpenOptions::new()
}

/// A SID in a buffer of its own (8-byte aligned, as SIDs need 4).
struct Sid(Vec<u64>);

impl Sid {
    fn ptr(&self) -> PSID {
        self.0.as_ptr().cast_mut().cast::<c_void>()
    }

    fn well_known(kind: WELL_KNOWN_SID_TYPE) -> std::io::Result<Self> {
        let sid = Sid(vec![0; (SECURITY_MAX_SID_SIZE as usize).div_ceil(8)]);
        let mut size = SECURITY_MAX_SID_SIZE;
        // SAFETY: the buffer holds SECURITY_MAX_SID_SIZE bytes, said in `size`.
        if unsafe { CreateWellKnownSid(kind, std::ptr::null_mut(), sid.ptr(), &mut size) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(sid)
    }

    /// The user this process runs as.
    fn user() -> std::io::Result<Self> {
        // SAFETY: the token handle is this function's and closed below; the
        // buffer's size is asked for first and passed with it.
        unsafe {
            let mut token: HANDLE = std::ptr::null_mut();
            if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut needed = 0u32;
            GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed);
            let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
            let ok = GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast::<c_void>(),
                needed,
                &mut needed,
            );
            let failed = std::io::Error::last_os_error();
            CloseHandle(token);
            if ok == 0 {
                return Err(failed);
            }
            let user = &*buffer.as_ptr().cast::<TOKEN_USER>();
            let length = GetLengthSid(user.User.Sid) as usize;
            let mut sid = Sid(vec![0; length.div_ceil(8)]);
            std::ptr::copy_nonoverlapping(
                user.User.Sid.cast::<u8>(),
                sid.0.as_mut_ptr().cast::<u8>(),
                length,
            );
            Ok(sid)
        }
    }
}

/// Who may open a private file.
fn owners() -> std::io::Result<[Sid; 3]> {
    Ok([
        Sid::user()?,
        Sid::well_known(WinLocalSystemSid)?,
        Sid::well_known(WinBuiltinAdministratorsSid)?,
    ])
}

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain([0]).collect()
}

pub(super) fn is_private(path: &Path) -> std::io::Result<bool> {
    let owners = owners()?;
    let name = wide(path);
    // SAFETY: the descriptor GetNamedSecurityInfoW allocates is freed below;
    // the DACL and ACE pointers point into it and are read before that.
    unsafe {
        let mut dacl: *mut ACL = std::ptr::null_mut();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        let status = GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut descriptor,
        );
        if status != 0 {
            return Err(std::io::Error::from_raw_os_error(status as i32));
        }
        // A missing DACL allows everyone.
        let mut private = !dacl.is_null();
        if private {
            for index in 0..u32::from((*dacl).AceCount) {
                let mut ace: *mut c_void = std::ptr::null_mut();
                if GetAce(dacl, index, &mut ace) == 0 {
                    private = false;
                    break;
                }
                let header = &*ace.cast::<ACE_HEADER>();
                if u32::from(header.AceType) != ACCESS_ALLOWED_ACE_TYPE {
                    continue; // denials and audits take nothing away from privacy
                }
                let allowed = ace.cast::<ACCESS_ALLOWED_ACE>();
                let sid: PSID = std::ptr::addr_of!((*allowed).SidStart)
                    .cast_mut()
                    .cast::<c_void>();
                if !owners.iter().any(|owner| EqualSid(owner.ptr(), sid) != 0) {
                    private = false;
                    break;
                }
            }
        }
        LocalFree(descriptor);
        Ok(private)
    }
}

pub(super) fn make_private(path: &Path, kind: Kind) -> std::io::Result<()> {
    let owners = owners()?;
    let inherit = match kind {
        Kind::File => 0,
        Kind::Dir => OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE,
    };
    // SAFETY: the ACL buffer is sized for its header and one entry per
    // owner (each entry's SID replacing its `SidStart`), 8-byte aligned.
    unsafe {
        let size = std::mem::size_of::<ACL>()
            + owners
                .iter()
                .map(|sid| {
                    std::mem::size_of::<ACCESS_ALLOWED_ACE>() - std::mem::size_of::<u32>()
                        + GetLengthSid(sid.ptr()) as usize
                })
                .sum::<usize>();
        let mut buffer = vec![0u64; size.div_ceil(8)];
        let acl = buffer.as_mut_ptr().cast::<ACL>();
        if InitializeAcl(acl, (buffer.len() * 8) as u32, ACL_REVISION) == 0 {
            return Err(std::io::Error::last_os_error());
        }
        for owner in &owners {
            if AddAccessAllowedAceEx(acl, ACL_REVISION, inherit, GENERIC_ALL, owner.ptr()) == 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        let name = wide(path);
        let status = SetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            acl,
            std::ptr::null(),
        );
        if status != 0 {
            return Err(std::io::Error::from_raw_os_error(status as i32));
        }
    }
    Ok(())
}
