//! One line per request, written by a thread of its own so that a slow terminal or pipe never
//! holds up a response.

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What is logged of one request.
#[derive(Debug, Serialize)]
pub struct Entry {
    #[serde(serialize_with = "http_date")]
    pub time: SystemTime,
    pub remote: Option<SocketAddr>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub cache: Option<&'static str>,
    pub bytes: u64,
    #[serde(rename = "ms", serialize_with = "millis")]
    pub duration: Duration,
}

fn http_date<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&httpdate::fmt_http_date(*time))
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

impl Entry {
    pub fn format(&self, format: LogFormat) -> String {
        match format {
            LogFormat::Json => serde_json::to_string(self).unwrap_or_default(),
            LogFormat::Text => format!(
                "{} {} \"{} {}\" {} {} {} {:.2}ms",
                httpdate::fmt_http_date(self.time),
                self.remote.map_or("-".to_string(), |a| a.ip().to_string()),
                self.method,
                self.path,
                self.status,
                self.cache.unwrap_or("-"),
                self.bytes,
                self.duration.as_secs_f64() * 1000.0
            ),
        }
    }
}

/// Sends lines to a writer thread (stdout); dropping it ends the thread after the last line.
pub struct AccessLog {
    format: LogFormat,
    lines: mpsc::Sender<String>,
}

impl AccessLog {
    pub fn to_stdout(format: LogFormat) -> Self {
        Self::to_writer(format, std::io::stdout())
    }

    pub fn to_writer(format: LogFormat, writer: impl Write + Send + 'static) -> Self {
        let (lines, rx) = mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("gatsby-dsg-access-log".into())
            .spawn(move || {
                crate::threads::batch_this_thread();
                let mut out = BufWriter::new(writer);
                while let Ok(line) = rx.recv() {
                    let _ = writeln!(out, "{line}");
                    // Flush once the burst is written, not per line.
                    while let Ok(line) = rx.try_recv() {
                        let _ = writeln!(out, "{line}");
                    }
                    let _ = out.flush();
                }
            })
            .expect("spawning the access-log thread");
        AccessLog { format, lines }
    }

    pub fn log(&self, entry: &Entry) {
        let _ = self.lines.send(entry.format(self.format));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            time: SystemTime::UNIX_EPOCH,
            remote: Some("127.0.0.1:5000".parse().unwrap()),
            method: "GET".into(),
            path: "/blog/\"a\"/".into(),
            status: 200,
            cache: Some("HIT"),
            bytes: 1234,
            duration: Duration::from_micros(1500),
        }
    }

    #[test]
    fn text_line_has_status_cache_bytes_and_duration() {
        let line = entry().format(LogFormat::Text);
        assert!(
            line.contains("\"GET /blog/\"a\"/\" 200 HIT 1234 1.50ms"),
            "{line}"
        );
    }

    #[test]
    fn json_line_is_one_parseable_object() {
        let line = entry().format(LogFormat::Json);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["path"], "/blog/\"a\"/");
        assert_eq!(v["status"], 200);
        assert_eq!(v["cache"], "HIT");
        assert_eq!(v["bytes"], 1234);
        assert_eq!(v["ms"], 1.5);
    }
}
