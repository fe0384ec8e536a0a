//! Where the tray lives on macOS: the main thread, which must run AppKit's
//! event loop (NSApplication) for a menu-bar item to draw and click; the
//! app's own work (the tokio runtime, the server) runs on a thread of its
//! own. Models reach the main thread through GCD's main queue. The tray
//! process is an accessory app: a menu-bar item, no Dock icon, no menu bar.

use super::{Resident, TrayError, TrayModel};
use dispatch2::DispatchQueue;
use objc2::MainThreadMarker;
use objc2_app_kit::{NSApplication, NSApplicationActivationPolicy};
use std::cell::RefCell;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::oneshot;

thread_local! {
    /// The tray, on the main thread only.
    static RESIDENT: RefCell<Option<Resident>> = const { RefCell::new(None) };
}

/// AppKit's loop runs on the main thread (set before `work` starts).
static LOOP_RUNS: AtomicBool = AtomicBool::new(false);
/// The tray was taken down (Quit).
static GONE: AtomicBool = AtomicBool::new(false);

/// Runs `work` (the whole app, its exit status) on a thread of its own and
/// AppKit's event loop on this, the main thread.
pub(crate) fn with_event_loop(work: impl FnOnce() -> u8 + Send + 'static) -> ExitCode {
    let Some(main_thread) = MainThreadMarker::new() else {
        // Not on the main thread: no loop, so the tray reports it cannot show.
        return ExitCode::from(work());
    };
    let app = NSApplication::sharedApplication(main_thread);
    app.setActivationPolicy(NSApplicationActivationPolicy::Accessory);
    LOOP_RUNS.store(true, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("perch-main".into())
        // AppKit's loop does not return by itself: once the app has done
        // (server stopped, logs flushed), the process ends with its status.
        .spawn(move || std::process::exit(work().into()));
    if let Err(err) = spawned {
        eprintln!("perch-desktop: cannot start Perch's main thread: {err}");
        return ExitCode::FAILURE;
    }
    app.run();
    ExitCode::SUCCESS
}

#[derive(Clone)]
pub(super) struct Handle;

impl Handle {
    pub(super) fn show(&self, model: TrayModel) -> bool {
        if GONE.load(Ordering::SeqCst) {
            return false;
        }
        DispatchQueue::main().exec_async(move || {
            RESIDENT.with_borrow(|resident| {
                if let Some(resident) = resident {
                    resident.apply(&model);
                }
            });
        });
        true
    }

    pub(super) fn quit(&self) {
        GONE.store(true, Ordering::SeqCst);
        DispatchQueue::main().exec_async(|| drop(RESIDENT.take()));
    }
}

pub(super) async fn start(
    build: impl FnOnce() -> Result<Resident, TrayError> + Send + 'static,
) -> Result<Handle, TrayError> {
    if !LOOP_RUNS.load(Ordering::SeqCst) {
        return Err(TrayError::Register(
            "AppKit's event loop is not running on the main thread".into(),
        ));
    }
    let (ready, made) = oneshot::channel();
    DispatchQueue::main().exec_async(move || {
        let _ = ready.send(build().map(|resident| RESIDENT.set(Some(resident))));
    });
    made.await
        .map_err(|_| TrayError::Register("AppKit's main loop dropped the tray".into()))??;
    Ok(Handle)
}
