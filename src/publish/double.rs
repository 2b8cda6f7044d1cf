//! Helpers of the platform doubles (`autosync mock-account`,
//! `autosync mock-wechat`): a strict multipart reader, image sniffing, the
//! `DATA/fail_next` knob and the JSON files they keep. Shared so that every
//! double is strict in the same way.

use crate::publish::file::write_atomically;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The `*.json` files of `dir`, skipping temporaries (dot files) of
/// atomic writes.
pub(crate) fn json_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect()
}

/// The request's Host, when it is a plain host[:port] (it goes into URLs
/// the double hands out).
pub(crate) fn host_of(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1")
        .to_string()
}

/// Text escaped for HTML text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A file the double stored (an uploaded image), served with its type; 404
/// when it is gone.
pub(crate) async fn stored_file(path: PathBuf, content_type: String) -> Response {
    match tokio::fs::read(path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// One part of a multipart/form-data body.
pub(crate) struct Part {
    pub(crate) name: String,
    /// The `filename` of the part, when it is a file.
    pub(crate) filename: Option<String>,
    pub(crate) data: Vec<u8>,
}

/// A minimal multipart/form-data reader (RFC 7578): enough for uploads,
/// strict about the boundary so malformed bodies are refused, not guessed.
pub(crate) fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })?;
    if boundary.is_empty() {
        return None;
    }
    let delim = format!("--{boundary}").into_bytes();
    let next_delim = format!("\r\n--{boundary}").into_bytes();
    let mut pos = find(body, &delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return None;
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = std::str::from_utf8(&body[pos..head_end]).ok()?;
        let data_start = head_end + 4;
        let data_end = find(body, &next_delim, data_start)?;
        let disposition_param = |param: &str| {
            head.lines().find_map(|line| {
                let (k, v) = line.split_once(':')?;
                if !k.trim().eq_ignore_ascii_case("content-disposition") {
                    return None;
                }
                v.split(';').find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    (k.trim() == param).then(|| v.trim().trim_matches('"').to_string())
                })
            })
        };
        parts.push(Part {
            name: disposition_param("name")?,
            filename: disposition_param("filename"),
            data: body[data_start..data_end].to_vec(),
        });
        pos = data_end + next_delim.len();
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        match hay[i..].iter().position(|&b| b == first) {
            Some(off) => {
                i += off;
                if hay.get(i..i + needle.len()) == Some(needle) {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}

/// MIME type, file extension and pixel size of an image, from its header;
/// `None` when it is not an image the platform takes.
pub(crate) fn sniff_image(b: &[u8]) -> Option<(&'static str, &'static str, u32, u32)> {
    let be16 = |i: usize| {
        b.get(i..i + 2)
            .map(|s| u32::from(u16::from_be_bytes([s[0], s[1]])))
    };
    let le16 = |i: usize| {
        b.get(i..i + 2)
            .map(|s| u32::from(u16::from_le_bytes([s[0], s[1]])))
    };
    let be32 = |i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(("image/png", "png", be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Some(("image/gif", "gif", le16(6)?, le16(8)?));
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Some(("image/webp", "webp", 0, 0));
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        // Walk the segments to the first start-of-frame marker.
        let mut i = 2;
        while i + 9 < b.len() {
            if b[i] != 0xFF {
                return Some(("image/jpeg", "jpg", 0, 0));
            }
            let marker = b[i + 1];
            let len = be16(i + 2)? as usize;
            if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                return Some(("image/jpeg", "jpg", be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + len;
        }
        return Some(("image/jpeg", "jpg", 0, 0));
    }
    None
}

/// The first line of the knob file `path` (one fault per line) that
/// `accept` takes, parsed; it is removed from the file (the file too when it
/// was the last), so each line applies once. A line that does not parse is
/// dropped with a warning. Lines `accept` passes over stay for later calls.
pub(crate) fn take_knob_line<T>(path: &Path, accept: impl Fn(&T) -> bool) -> Option<T>
where
    T: FromStr<Err = String>,
{
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut taken = None;
    let mut consumed = None;
    for (i, line) in lines.iter().enumerate() {
        match line.parse::<T>() {
            Ok(f) if accept(&f) => {
                taken = Some(f);
                consumed = Some(i);
                break;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, knob = %path.display(), "ignoring a line of the fault knob");
                consumed = Some(i);
                break;
            }
        }
    }
    let i = consumed?;
    let rest: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, l)| *l)
        .collect();
    let written = if rest.is_empty() {
        std::fs::remove_file(path).map_err(|e| e.to_string())
    } else {
        write_atomically(path, format!("{}\n", rest.join("\n")).as_bytes())
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, knob = %path.display(), "could not consume a line of the fault knob");
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_are_split_by_name_with_binary_data_intact() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"upfile\"; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n\x00\r\n\xff\r\n--XyZ--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "a");
        assert_eq!(parts[0].data, b"1");
        assert_eq!(parts[1].name, "upfile");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].filename.as_deref(), Some("x.png"));
        assert_eq!(parts[1].data, b"\x00\r\n\xff");
        assert!(parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nbroken").is_none());
        assert!(parse_multipart("application/json", body).is_none());
    }

    #[test]
    fn image_sizes_are_read_from_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&3u32.to_be_bytes());
        png.extend_from_slice(&2u32.to_be_bytes());
        assert_eq!(sniff_image(&png), Some(("image/png", "png", 3, 2)));
        let gif = b"GIF89a\x05\x00\x07\x00";
        assert_eq!(sniff_image(gif), Some(("image/gif", "gif", 5, 7)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x0A, 0x00, 0x14, 0x03, 0, 0, 0, 0,
        ];
        assert_eq!(sniff_image(&jpeg), Some(("image/jpeg", "jpg", 20, 10)));
        assert_eq!(sniff_image(b"<html>"), None);
    }

    #[test]
    fn knob_lines_are_taken_once_in_order_by_whoever_accepts_them() {
        let dir = tempfile::tempdir().unwrap();
        let knob = dir.path().join("fail_next");
        std::fs::write(&knob, "b2\n\nbad line\na1\nb3\n").unwrap();
        #[derive(Debug, PartialEq)]
        struct L(String);
        impl FromStr for L {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                if s.contains(' ') {
                    Err(format!("bad {s}"))
                } else {
                    Ok(L(s.to_string()))
                }
            }
        }
        let a = |l: &L| l.0.starts_with('a');
        let b = |l: &L| l.0.starts_with('b');
        assert_eq!(take_knob_line(&knob, b), Some(L("b2".into())));
        // The bad line is in the way of `a`: dropped, nothing taken.
        assert_eq!(take_knob_line(&knob, a), None);
        assert_eq!(take_knob_line(&knob, a), Some(L("a1".into())));
        assert_eq!(take_knob_line(&knob, a), None, "b3 is not for a");
        assert_eq!(take_knob_line(&knob, b), Some(L("b3".into())));
        assert!(!knob.exists(), "the last line removes the file");
        assert_eq!(take_knob_line(&knob, b), None);
    }
}
