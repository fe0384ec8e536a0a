//! macOS notifications with buttons through UserNotifications, over the
//! objc2 bindings (no Objective-C to compile, so it type-checks without
//! Apple's SDK). UserNotifications serves only a process inside an app
//! bundle (Perch.app, whose Info.plist names `dev.perch.desktop`); a bare
//! binary (`perch serve` from a shell, a development build) shows plain
//! notifications through `osascript` instead: no buttons, no replacing, and
//! macOS attributes them to Script Editor. macOS asks the person at the
//! first notification; once they said no, a notification fails with
//! macOS's reason, which the notifier logs (docs/desktop.md).
#![allow(unsafe_code)]

use super::Toast;
use block2::RcBlock;
use objc2::rc::Retained;
use objc2::runtime::{Bool, NSObject, NSObjectProtocol, ProtocolObject};
use objc2::{define_class, msg_send, AnyThread, DefinedClass};
use objc2_foundation::{NSArray, NSBundle, NSError, NSSet, NSString};
use objc2_user_notifications::{
    UNAuthorizationOptions, UNMutableNotificationContent, UNNotification, UNNotificationAction,
    UNNotificationActionOptions, UNNotificationCategory, UNNotificationCategoryOptions,
    UNNotificationDefaultActionIdentifier, UNNotificationDismissActionIdentifier,
    UNNotificationPresentationOptions, UNNotificationRequest, UNNotificationResponse,
    UNNotificationSound, UNUserNotificationCenter, UNUserNotificationCenterDelegate,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;
use stdx::MutexExt;

type OnAction = Box<dyn Fn(&str) + Send>;

/// How long the notification service may take to accept a notification.
const ACCEPTED_WITHIN: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// What the delegate and `show` share.
#[derive(Default)]
struct Shared {
    /// Request identifier → what a response to it calls.
    pending: Mutex<HashMap<String, OnAction>>,
    /// Every set of buttons used so far: the center takes all categories at
    /// once, so a new one re-registers them all.
    categories: Mutex<Vec<Vec<(&'static str, &'static str)>>>,
}

define_class!(
    // SAFETY: NSObject has no subclassing requirements; no Drop impl.
    #[unsafe(super(NSObject))]
    #[ivars = Shared]
    struct Delegate;

    unsafe impl NSObjectProtocol for Delegate {}

    unsafe impl UNUserNotificationCenterDelegate for Delegate {
        /// Shows Perch's notifications while one of its windows is in front.
        #[unsafe(method(userNotificationCenter:willPresentNotification:withCompletionHandler:))]
        fn will_present(
            &self,
            _center: &UNUserNotificationCenter,
            _notification: &UNNotification,
            completion: &block2::DynBlock<dyn Fn(UNNotificationPresentationOptions)>,
        ) {
            completion.call((UNNotificationPresentationOptions::Banner
                | UNNotificationPresentationOptions::List
                | UNNotificationPresentationOptions::Sound,));
        }

        #[unsafe(method(userNotificationCenter:didReceiveNotificationResponse:withCompletionHandler:))]
        fn did_receive(
            &self,
            _center: &UNUserNotificationCenter,
            response: &UNNotificationResponse,
            completion: &block2::DynBlock<dyn Fn()>,
        ) {
            self.respond(response);
            completion.call(());
        }
    }
);

impl Delegate {
    fn new() -> Retained<Self> {
        let this = Self::alloc().set_ivars(Shared::default());
        // SAFETY: NSObject's init on a freshly allocated object.
        unsafe { msg_send![super(this), init] }
    }

    fn respond(&self, response: &UNNotificationResponse) {
        let identifier = response.notification().request().identifier().to_string();
        let pressed = response.actionIdentifier();
        // SAFETY: constants UserNotifications exports.
        let (default, dismissed) = unsafe {
            (
                UNNotificationDefaultActionIdentifier,
                UNNotificationDismissActionIdentifier,
            )
        };
        // Answered or dismissed, it is gone from the screen: forget it.
        let on_action = self.ivars().pending.lock_unpoisoned().remove(&identifier);
        if *pressed == *dismissed {
            return;
        }
        let action = if *pressed == *default {
            "default".to_string()
        } else {
            pressed.to_string()
        };
        match on_action {
            Some(on_action) => on_action(&action),
            None => tracing::debug!("notification {identifier}: {action} after Perch forgot it"),
        }
    }
}

/// The delegate, once: `None` outside an app bundle. The center keeps its
/// delegate weakly, so it lives here for the life of the process.
fn delegate() -> Option<&'static Retained<Delegate>> {
    static DELEGATE: OnceLock<Option<Retained<Delegate>>> = OnceLock::new();
    DELEGATE
        .get_or_init(|| {
            NSBundle::mainBundle().bundleIdentifier()?;
            let delegate = Delegate::new();
            let center = UNUserNotificationCenter::currentNotificationCenter();
            center.setDelegate(Some(ProtocolObject::from_ref(&*delegate)));
            // macOS asks the person once; until they allow it, notifications
            // are not shown (System Settings › Notifications › Perch).
            let asked = RcBlock::new(|granted: Bool, error: *mut NSError| {
                if !granted.as_bool() {
                    // SAFETY: the error the center passes, or null.
                    let why = unsafe { error.as_ref() }
                        .map(|e| e.localizedDescription().to_string())
                        .unwrap_or_else(|| "turned off in System Settings › Notifications".into());
                    tracing::warn!("notifications: macOS does not show Perch's ({why})");
                }
            });
            center.requestAuthorizationWithOptions_completionHandler(
                UNAuthorizationOptions::Alert | UNAuthorizationOptions::Sound,
                &asked,
            );
            Some(delegate)
        })
        .as_ref()
}

pub(super) fn supports_actions() -> bool {
    delegate().is_some()
}

pub(super) fn show(toast: Toast, on_action: impl Fn(&str) + Send + 'static) -> Result<u32, String> {
    let Some(delegate) = delegate() else {
        return script_notification(&toast.summary, &toast.body).map(|()| 0);
    };
    let id = toast
        .replaces
        .unwrap_or_else(|| NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let buttons: Vec<_> = toast
        .actions
        .iter()
        .copied()
        .filter(|(action, _)| *action != "default")
        .collect();
    let content = UNMutableNotificationContent::new();
    content.setTitle(&NSString::from_str(&toast.summary));
    content.setBody(&NSString::from_str(&toast.body));
    if toast.urgent {
        // Approvals and changes are heard as well as seen; how long they
        // stay is the person's alert style (Info.plist asks for alerts).
        content.setSound(Some(&UNNotificationSound::defaultSound()));
    }
    if !buttons.is_empty() {
        content.setCategoryIdentifier(&NSString::from_str(&register(delegate, buttons)));
    }
    let identifier = request_identifier(id);
    delegate
        .ivars()
        .pending
        .lock_unpoisoned()
        .insert(identifier.clone(), Box::new(on_action));
    deliver(&identifier, &content).inspect_err(|_| {
        delegate
            .ivars()
            .pending
            .lock_unpoisoned()
            .remove(&identifier);
    })?;
    Ok(id)
}

pub(super) fn answered(id: u32, summary: &str) {
    let Some(delegate) = delegate() else { return };
    let identifier = request_identifier(id);
    delegate
        .ivars()
        .pending
        .lock_unpoisoned()
        .remove(&identifier);
    let content = UNMutableNotificationContent::new();
    content.setTitle(&NSString::from_str(summary));
    if let Err(e) = deliver(&identifier, &content) {
        tracing::debug!("notification {identifier}: not replaced ({e})");
    }
}

fn request_identifier(id: u32) -> String {
    format!("perch-{id}")
}

/// Registers the category for `buttons` (with every earlier one); its name.
fn register(delegate: &Delegate, buttons: Vec<(&'static str, &'static str)>) -> String {
    let name = category_name(&buttons);
    let mut known = delegate.ivars().categories.lock_unpoisoned();
    if !known.contains(&buttons) {
        known.push(buttons);
        let categories: Vec<_> = known
            .iter()
            .map(|buttons| {
                let actions: Vec<_> = buttons
                    .iter()
                    .map(|(action, label)| {
                        UNNotificationAction::actionWithIdentifier_title_options(
                            &NSString::from_str(action),
                            &NSString::from_str(label),
                            UNNotificationActionOptions::empty(),
                        )
                    })
                    .collect();
                UNNotificationCategory::categoryWithIdentifier_actions_intentIdentifiers_options(
                    &NSString::from_str(&category_name(buttons)),
                    &NSArray::from_retained_slice(&actions),
                    &NSArray::new(),
                    UNNotificationCategoryOptions::empty(),
                )
            })
            .collect();
        UNUserNotificationCenter::currentNotificationCenter()
            .setNotificationCategories(&NSSet::from_retained_slice(&categories));
    }
    name
}

fn category_name(buttons: &[(&str, &str)]) -> String {
    let actions: Vec<_> = buttons.iter().map(|(action, _)| *action).collect();
    format!("perch.{}", actions.join("."))
}

/// Adds (or, under an identifier already shown, replaces) a notification
/// and waits for the center to accept it.
fn deliver(identifier: &str, content: &UNMutableNotificationContent) -> Result<(), String> {
    let request = UNNotificationRequest::requestWithIdentifier_content_trigger(
        &NSString::from_str(identifier),
        content,
        None,
    );
    let (accepted, outcome) = mpsc::sync_channel(1);
    let done = RcBlock::new(move |error: *mut NSError| {
        // SAFETY: the error the center passes, or null.
        let error = unsafe { error.as_ref() }.map(|e| e.localizedDescription().to_string());
        let _ = accepted.try_send(error);
    });
    UNUserNotificationCenter::currentNotificationCenter()
        .addNotificationRequest_withCompletionHandler(&request, Some(&done));
    match outcome.recv_timeout(ACCEPTED_WITHIN) {
        Ok(None) => Ok(()),
        Ok(Some(error)) => Err(format!("macOS refused the notification: {error}")),
        Err(_) => Err(format!(
            "macOS's notification service did not answer within {ACCEPTED_WITHIN:?}"
        )),
    }
}

/// A plain notification from a process outside an app bundle. The text goes
/// in as the script's arguments, never into its source.
fn script_notification(summary: &str, body: &str) -> Result<(), String> {
    let status = std::process::Command::new("osascript")
        .args([
            "-e",
            "on run argv",
            "-e",
            "display notification (item 2 of argv) with title (item 1 of argv)",
            "-e",
            "end run",
            summary,
            body,
        ])
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("running osascript: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "osascript could not show the notification ({status})"
        ))
    }
}
