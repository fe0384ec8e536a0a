//! Window geometry, remembered per window in `<data dir>/windows.json` when a
//! window closes and applied when it is made again. Logical pixels, so a
//! change of scale factor does not grow or shrink windows.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Geometry {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub maximized: bool,
}

pub struct GeometryStore {
    path: PathBuf,
    known: Mutex<HashMap<String, Geometry>>,
}

impl GeometryStore {
    pub fn open(path: PathBuf) -> Self {
        let known = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Self {
            path,
            known: Mutex::new(known),
        }
    }

    pub fn get(&self, label: &str) -> Option<Geometry> {
        let known = self.known.lock().ok()?;
        known
            .get(label)
            .copied()
            .filter(|g| g.width >= 200.0 && g.height >= 150.0)
    }

    pub fn remember(&self, window: &tauri::Window) {
        let Some(geometry) = read(window) else { return };
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        known.insert(window.label().to_string(), geometry);
        let saved = serde_json::to_string_pretty(&*known)
            .map_err(std::io::Error::other)
            .and_then(|text| {
                let tmp = self.path.with_extension("json.tmp");
                std::fs::write(&tmp, text)?;
                std::fs::rename(&tmp, &self.path)
            });
        if let Err(err) = saved {
            tracing::warn!(
                "could not save window geometry to {}: {err}",
                self.path.display()
            );
        }
    }
}

fn read(window: &tauri::Window) -> Option<Geometry> {
    let scale = window.scale_factor().ok()?;
    let position = window.outer_position().ok()?.to_logical::<f64>(scale);
    let size = window.inner_size().ok()?.to_logical::<f64>(scale);
    let maximized = window.is_maximized().unwrap_or(false);
    Some(Geometry {
        x: position.x,
        y: position.y,
        width: size.width,
        height: size.height,
        maximized,
    })
}
