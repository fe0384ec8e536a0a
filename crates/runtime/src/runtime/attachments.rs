//! Attachments: images the person adds to a message, kept under
//! `<data dir>/attachments/<id>.<ext>` (private to the person) and given to
//! Codex as local images. The id is the start of the content's SHA-256, so
//! the same image pasted twice is kept once.

use super::*;
use perch_protocol::attachments::{
    Attachment, ATTACHMENT_TYPES, MAX_ATTACHMENTS_PER_MESSAGE, MAX_ATTACHMENT_BYTES,
};
use sha2::{Digest, Sha256};

const ID_LEN: usize = 32;

impl Runtime {
    /// Keeps an image. `declared` is the `Content-Type` the client sent; the
    /// bytes must be an image of that type.
    pub fn save_attachment(&self, declared: &str, bytes: &[u8]) -> Result<Attachment> {
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(Error::TooLarge(format!(
                "the image is {:.1} MB; the limit is {} MB",
                bytes.len() as f64 / 1_048_576.0,
                MAX_ATTACHMENT_BYTES / 1_048_576
            )));
        }
        if bytes.is_empty() {
            return Err(Error::Invalid("the image is empty".into()));
        }
        let declared = declared.split(';').next().unwrap_or("").trim();
        let mime = sniff(bytes).ok_or_else(|| {
            Error::Unsupported(
                "only PNG, JPEG, GIF and WebP images can be attached (these bytes are none of them)"
                    .into(),
            )
        })?;
        if declared != mime && declared != "application/octet-stream" {
            return Err(Error::Unsupported(format!(
                "the body is declared as {declared:?} but is {mime}; send it with `Content-Type: {mime}`"
            )));
        }
        let digest = Sha256::digest(bytes);
        let id: String = digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()[..ID_LEN]
            .into();
        let dir = self.attachments_dir();
        stdx::private::create_dir(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let path = dir.join(format!("{id}.{}", extension(mime)));
        if !path.is_file() {
            // Written aside and renamed: a crash never leaves half an image
            // under the id.
            let partial = dir.join(format!(".{id}.partial"));
            let write = || -> std::io::Result<()> {
                use std::io::Write;
                let mut file = stdx::private::open_options()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&partial)?;
                stdx::private::restrict(&partial, stdx::private::Kind::File)?;
                file.write_all(bytes)?;
                file.sync_all()?;
                std::fs::rename(&partial, &path)
            };
            write().map_err(|e| Error::io(format!("saving {}", path.display()), e))?;
        }
        Ok(Attachment {
            id,
            mime: mime.into(),
            size: bytes.len() as u64,
        })
    }

    /// A kept image's file and type.
    pub fn attachment(&self, id: &str) -> Result<(PathBuf, &'static str)> {
        let valid = id.len() == ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let missing = || Error::NotFound(format!("no attachment {id}"));
        if !valid {
            return Err(missing());
        }
        let dir = self.attachments_dir();
        ATTACHMENT_TYPES
            .iter()
            .map(|mime| (dir.join(format!("{id}.{}", extension(mime))), *mime))
            .find(|(path, _)| path.is_file())
            .ok_or_else(missing)
    }

    /// The files of the images a message names, in its order.
    pub(crate) fn attachment_paths(&self, ids: &[String]) -> Result<Vec<String>> {
        if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
            return Err(Error::Invalid(format!(
                "a message takes at most {MAX_ATTACHMENTS_PER_MESSAGE} images; this one has {}",
                ids.len()
            )));
        }
        ids.iter()
            .map(|id| {
                let (path, _) = self.attachment(id).map_err(|_| {
                    Error::Invalid(format!(
                        "no attachment {id}: upload the image with POST /api/attachments first"
                    ))
                })?;
                path.to_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::Invalid(format!("{} is not valid UTF-8", path.display())))
            })
            .collect()
    }

    fn attachments_dir(&self) -> PathBuf {
        self.data_dir.join("attachments")
    }
}

/// The image type of `bytes`, from their first bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        _ => "webp",
    }
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn images_are_known_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg xmlns="), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
    }
}
