//! A Job Object that ends every process in it when terminated or when its
//! last handle closes (`JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`). The child is
//! assigned right after it starts; what it spawns from then on is in the job
//! too (Windows 8 and later allow nested jobs).
#![allow(unsafe_code)]

use std::ffi::c_void;
use tokio::process::{Child, Command};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation,
    JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};

pub(super) fn prepare(_: &mut Command) {}

pub(super) struct Tree {
    job: HANDLE,
}

// SAFETY: a job handle may be used from any thread; Tree only passes it to
// the job functions and closes it once, in Drop.
unsafe impl Send for Tree {}
unsafe impl Sync for Tree {}

impl Tree {
    pub(super) fn adopt(child: &Child) -> std::io::Result<Self> {
        let process = child
            .raw_handle()
            .ok_or_else(|| std::io::Error::other("the child has already exited"))?;
        // SAFETY: plain Win32 calls on a job this function owns and the
        // child's live process handle; every result is checked.
        unsafe {
            let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
            if job.is_null() {
                return Err(std::io::Error::last_os_error());
            }
            let tree = Self { job };
            let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
            limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            let size = std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32;
            if SetInformationJobObject(
                job,
                JobObjectExtendedLimitInformation,
                std::ptr::from_ref(&limits).cast::<c_void>(),
                size,
            ) == 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if AssignProcessToJobObject(job, process as HANDLE) == 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(tree)
        }
    }

    fn active_processes(&self) -> u32 {
        // SAFETY: queries this Tree's own job into a local struct of the
        // size given.
        unsafe {
            let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = std::mem::zeroed();
            let size = std::mem::size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32;
            let ok = QueryInformationJobObject(
                self.job,
                JobObjectBasicAccountingInformation,
                std::ptr::from_mut(&mut info).cast::<c_void>(),
                size,
                std::ptr::null_mut(),
            );
            if ok == 0 {
                0
            } else {
                info.ActiveProcesses
            }
        }
    }

    pub(super) fn terminate(&self) -> bool {
        let running = self.alive();
        self.kill();
        running
    }

    pub(super) fn alive(&self) -> bool {
        self.active_processes() > 0
    }

    pub(super) fn kill(&self) {
        // SAFETY: ends the processes of this Tree's own job.
        unsafe {
            TerminateJobObject(self.job, 1);
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // SAFETY: the handle is this Tree's and closed only here; closing
        // it ends what is left in the job (KILL_ON_JOB_CLOSE).
        unsafe {
            CloseHandle(self.job);
        }
    }
}
