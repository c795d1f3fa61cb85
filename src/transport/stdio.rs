//! MCP over stdin/stdout: nothing but MCP messages on stdout; logs go to
//! stderr. EOF on stdin, or the application's shutdown (SIGINT/SIGTERM),
//! ends the session; the caller then lets calls in flight finish.
//!
//! The line transport is ours rather than rmcp's `AsyncRwTransport` so that
//! every line passes the [frame check](super::frame) in the same single
//! parse: a request rmcp could not read is answered here (with its id when
//! it can be found) instead of being dropped or answered without an id.

use std::sync::Arc;

use rmcp::service::{RxJsonRpcMessage, ServerInitializeError, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServiceExt};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::frame::{self, Rejection};

/// Why the stdio session failed.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// stdin ended (or could not be read) before a client sent `initialize`.
    #[error("stdin ended before an MCP client sent initialize")]
    NoClient,
    #[error("MCP initialization over stdio failed: {0}")]
    Init(String),
    #[error("the stdio session failed: {0}")]
    Session(String),
}

/// Serves `server` on the process's stdin/stdout until EOF or `stop`.
pub async fn serve<S>(server: S, stop: CancellationToken) -> Result<(), StdioError>
where
    S: rmcp::ServerHandler,
{
    // Non-blocking pipes on Linux (falls back to blocking handles elsewhere).
    let (reader, writer) = rmcp::transport::stdio_pipes();
    let transport = LineTransport::new(reader, writer);
    let running = tokio::select! {
        r = server.serve(transport) => r.map_err(|e| match e {
            ServerInitializeError::ConnectionClosed(_) => StdioError::NoClient,
            e => StdioError::Init(e.to_string()),
        })?,
        () = stop.cancelled() => return Ok(()),
    };
    let session = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => {
            r.map_err(|e| StdioError::Session(e.to_string()))?;
        }
        () = stop.cancelled() => session.cancel(),
    }
    Ok(())
}

/// The longest line read (as rmcp's own line transport): a longer one is
/// skipped and answered with an error.
pub const MAX_LINE: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

/// Newline-delimited JSON-RPC over a reader and a writer, with the frame
/// check on every line.
pub struct LineTransport<R, W> {
    read: BufReader<R>,
    /// The line being read; a read cancelled half-way resumes it.
    line: Vec<u8>,
    /// Skipping the rest of a line that was too long.
    discarding: bool,
    /// The first bytes of the line being skipped, to find its id.
    head: Vec<u8>,
    out: Arc<tokio::sync::Mutex<Output<W>>>,
    /// An answer for a frame rmcp never sees, not yet handed to a writer
    /// (kept here so that a cancelled `receive` does not lose it).
    pending: Option<Vec<u8>>,
    /// Bounds the answers waiting to be written: a client that sends bad
    /// frames without reading stdout makes reading wait, not memory grow.
    reply_slots: Arc<Semaphore>,
    /// The writers of those answers; `close` waits for them.
    replies: TaskTracker,
}

/// Most error answers waiting for stdout at once.
const MAX_PENDING_REPLIES: usize = 64;

struct Output<W> {
    w: W,
    buf: Vec<u8>,
    closed: bool,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    /// Writes `buf` plus a newline and flushes.
    async fn write_buf(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the stdio transport is closed",
            ));
        }
        self.buf.push(b'\n');
        let Output { w, buf, .. } = self;
        let r = async {
            w.write_all(buf).await?;
            w.flush().await
        }
        .await;
        // Keep a small buffer for the next message, not a huge one.
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
        r
    }
}

/// What one bounded line read found.
enum LineRead {
    Line,
    /// A line over [`MAX_LINE`]; skipped up to its newline.
    TooLong,
    Eof,
    Io(std::io::Error),
}

/// How many bytes of a skipped line are kept to find its id.
const HEAD: usize = 64 * 1024;

impl<R, W> LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(read: R, write: W) -> Self {
        LineTransport {
            read: BufReader::with_capacity(64 * 1024, read),
            line: Vec::new(),
            discarding: false,
            head: Vec::new(),
            out: Arc::new(tokio::sync::Mutex::new(Output {
                w: write,
                buf: Vec::new(),
                closed: false,
            })),
            pending: None,
            reply_slots: Arc::new(Semaphore::new(MAX_PENDING_REPLIES)),
            replies: TaskTracker::new(),
        }
    }

    /// Reads one `\n`-terminated line into `self.line`, never holding more
    /// than [`MAX_LINE`] bytes. Cancel-safe: bytes are moved from the
    /// reader's buffer to `self.line` with no await in between, so a
    /// cancelled read leaves a partial line that the next call continues.
    async fn read_line(&mut self) -> LineRead {
        loop {
            let (used, done) = {
                let available = match self.read.fill_buf().await {
                    Ok(a) => a,
                    Err(e) => return LineRead::Io(e),
                };
                if available.is_empty() {
                    // A last line without its newline is still a line.
                    if !self.discarding && !self.line.is_empty() {
                        return LineRead::Line;
                    }
                    return LineRead::Eof;
                }
                let newline = available.iter().position(|b| *b == b'\n');
                let take = newline.map_or(available.len(), |i| i + 1);
                if self.discarding {
                    (take, newline.map(|_| LineRead::TooLong))
                } else if self.line.len() + take > MAX_LINE {
                    self.head = std::mem::take(&mut self.line);
                    self.head.truncate(HEAD);
                    self.discarding = true;
                    (take, newline.map(|_| LineRead::TooLong))
                } else {
                    self.line.extend_from_slice(&available[..take]);
                    (take, newline.map(|_| LineRead::Line))
                }
            };
            self.read.consume(used);
            if let Some(done) = done {
                self.discarding = false;
                return done;
            }
        }
    }

    /// Queues the answer for a frame rmcp does not see (a notification gets
    /// none: JSON-RPC forbids it, so it is only logged).
    fn reply(&mut self, r: &Rejection) {
        if r.notification {
            tracing::warn!("stdio: dropped a notification: {}", r.message);
            return;
        }
        tracing::debug!("stdio: answered a frame rmcp cannot read: {}", r.message);
        self.pending = Some(r.to_json());
    }

    /// Hands the pending answer to a writer task once a slot is free.
    /// Cancel-safe: the answer stays pending until it is handed over.
    async fn flush_pending(&mut self) {
        if self.pending.is_none() {
            return;
        }
        let Ok(slot) = Arc::clone(&self.reply_slots).acquire_owned().await else {
            return;
        };
        let Some(bytes) = self.pending.take() else {
            return;
        };
        let out = Arc::clone(&self.out);
        self.replies.spawn(async move {
            let mut o = out.lock().await;
            o.buf.clear();
            o.buf.extend_from_slice(&bytes);
            if let Err(e) = o.write_buf().await {
                tracing::debug!("stdio: cannot write an error answer: {e}");
            }
            drop(slot);
        });
    }
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let out = Arc::clone(&self.out);
        async move {
            let mut o = out.lock().await;
            o.buf.clear();
            serde_json::to_writer(&mut o.buf, &item)?;
            o.write_buf().await
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            self.flush_pending().await;
            match self.read_line().await {
                LineRead::Line => {}
                LineRead::TooLong => {
                    let head = std::mem::take(&mut self.head);
                    self.reply(&Rejection {
                        id: frame::lenient_request_id(&head),
                        code: rmcp::model::ErrorCode::INVALID_REQUEST,
                        message: format!(
                            "Invalid request: the message is longer than {MAX_LINE} bytes, the most one line may hold; it was skipped"
                        ),
                        notification: false,
                    });
                    continue;
                }
                LineRead::Eof => return None,
                LineRead::Io(e) => {
                    tracing::error!("cannot read stdin: {e}");
                    return None;
                }
            }
            let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                self.line.clear();
                continue;
            }
            let checked = frame::check(line);
            self.line.clear();
            if self.line.capacity() > 1 << 20 {
                self.line = Vec::new();
            }
            match checked {
                Ok(message) => return Some(message),
                Err(r) => self.reply(&r),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.replies.close();
        self.replies.wait().await;
        let mut o = self.out.lock().await;
        o.closed = true;
        o.w.flush().await
    }
}
