//! Where the tray lives on Windows: a thread of its own that makes it and
//! runs the Win32 message loop it needs; the tokio runtime keeps its
//! threads. A model goes over a channel and the loop is woken with a thread
//! message.
#![allow(unsafe_code)]

use super::{Resident, TrayError, TrayModel};
use std::process::ExitCode;
use tokio::sync::oneshot;
use windows_sys::Win32::System::Threading::GetCurrentThreadId;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    DispatchMessageW, GetMessageW, PostQuitMessage, PostThreadMessageW, TranslateMessage, MSG,
    WM_APP,
};

/// The whole app on this thread: Windows needs no particular thread.
pub(crate) fn with_event_loop(work: impl FnOnce() -> u8 + Send + 'static) -> ExitCode {
    ExitCode::from(work())
}

enum Command {
    Show(Box<TrayModel>),
    Quit,
}

/// The loop's thread, and where its commands go.
#[derive(Clone)]
pub(super) struct Handle {
    commands: std::sync::mpsc::Sender<Command>,
    thread: u32,
}

impl Handle {
    fn post(&self, command: Command) -> bool {
        // SAFETY: posts a message with no pointers to a thread id this tray
        // got from its own thread; it fails harmlessly once the thread ended.
        self.commands.send(command).is_ok()
            && unsafe { PostThreadMessageW(self.thread, WM_APP, 0, 0) } != 0
    }

    pub(super) fn show(&self, model: TrayModel) -> bool {
        self.post(Command::Show(Box::new(model)))
    }

    pub(super) fn quit(&self) {
        self.post(Command::Quit);
    }
}

pub(super) async fn start(
    build: impl FnOnce() -> Result<Resident, TrayError> + Send + 'static,
) -> Result<Handle, TrayError> {
    let (ready, started) = oneshot::channel();
    std::thread::Builder::new()
        .name("perch-tray".into())
        .spawn(move || run(build, ready))
        .map_err(|e| TrayError::Register(format!("starting the tray's thread: {e}")))?;
    started
        .await
        .map_err(|_| TrayError::Register("the tray's thread ended before the tray showed".into()))?
}

fn run(
    build: impl FnOnce() -> Result<Resident, TrayError>,
    ready: oneshot::Sender<Result<Handle, TrayError>>,
) {
    let resident = match build() {
        Ok(resident) => resident,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let (commands, inbox) = std::sync::mpsc::channel();
    // SAFETY: reads this thread's own id.
    let thread = unsafe { GetCurrentThreadId() };
    if ready.send(Ok(Handle { commands, thread })).is_err() {
        return;
    }
    // SAFETY: the standard message loop over a zeroed MSG this function
    // owns; GetMessageW returns 0 on WM_QUIT and -1 on an error.
    unsafe {
        let mut message: MSG = std::mem::zeroed();
        while GetMessageW(&mut message, std::ptr::null_mut(), 0, 0) > 0 {
            if message.message == WM_APP {
                for command in inbox.try_iter() {
                    match command {
                        Command::Show(model) => resident.apply(&model),
                        Command::Quit => PostQuitMessage(0),
                    }
                }
            }
            TranslateMessage(&message);
            DispatchMessageW(&message);
        }
    }
    drop(resident);
}
