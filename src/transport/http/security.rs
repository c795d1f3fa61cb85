//! The HTTP security policy, as three axum middleware layers placed on the
//! routes they guard (see `router` in the parent module):
//!
//! * [`host_origin`], on every route, the legacy SSE ones included: `Host`
//!   must be allowed (loopback names by default) and `Origin`, when present,
//!   must be allowed (loopback origins by default) → else 403
//!   (DNS-rebinding protection);
//! * [`bearer`], on the MCP routes: with a token, `Authorization: Bearer
//!   <token>`, compared in constant time → else 401;
//! * [`admission`], on the routes that do work: at most [`MAX_IN_FLIGHT`]
//!   requests at once → else 503; shutdown waits for them to drain.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An allowed `Host`: a name, optionally with a port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostRule {
    host: String,
    port: Option<u16>,
}

/// An allowed `Origin`: scheme, host and port (`None` = any port).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OriginRule {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// Who may talk to the server.
#[derive(Debug)]
pub struct Policy {
    hosts: Vec<HostRule>,
    origins: Vec<OriginRule>,
    token_digest: Option<[u8; 32]>,
    in_flight: Arc<Semaphore>,
}

/// Most requests handled at once (streams count only until their headers
/// are sent).
pub const MAX_IN_FLIGHT: usize = 256;

const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// True for loopback addresses and `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Splits `host[:port]` (with `[v6]:port`) into a lower-case host and port.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((h.to_ascii_lowercase(), port));
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((h, _)) if h.contains(':') => Some((s.to_ascii_lowercase(), None)),
        Some((h, p)) => Some((h.to_ascii_lowercase(), Some(p.parse().ok()?))),
        None => Some((s.to_ascii_lowercase(), None)),
    }
}

fn parse_origin(s: &str) -> Option<OriginRule> {
    let (scheme, rest) = s.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return None;
    }
    let (host, port) = if let Some(h) = rest.strip_suffix(":*") {
        (split_host_port(h)?.0, None)
    } else {
        let (h, p) = split_host_port(rest)?;
        let default = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        (h, Some(p.unwrap_or(default)))
    };
    Some(OriginRule { scheme, host, port })
}

/// Why a configured value was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

impl Policy {
    /// Builds the policy. `extra_hosts` and `extra_origins` come from
    /// `[http]` in the config; `bind_host` (when it is a specific name or
    /// address) is allowed as a `Host` too.
    pub fn new(
        bind_host: &str,
        extra_hosts: &[String],
        extra_origins: &[String],
        token: Option<&str>,
    ) -> Result<Policy, PolicyError> {
        let mut hosts: Vec<HostRule> = LOOPBACK_NAMES
            .iter()
            .map(|h| HostRule {
                host: h.to_string(),
                port: None,
            })
            .collect();
        let unspecified = bind_host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified());
        let mut add_host = |h: &str| -> Result<(), PolicyError> {
            let (host, port) = split_host_port(h).ok_or_else(|| {
                PolicyError(format!(
                    "[http] allowed_hosts: {h:?} is not a host or host:port"
                ))
            })?;
            hosts.push(HostRule { host, port });
            Ok(())
        };
        if !unspecified && !is_loopback(bind_host) {
            add_host(bind_host)?;
        }
        for h in extra_hosts {
            add_host(h)?;
        }
        let mut origins: Vec<OriginRule> = Vec::new();
        for scheme in ["http", "https"] {
            for host in LOOPBACK_NAMES {
                origins.push(OriginRule {
                    scheme: scheme.into(),
                    host: host.into(),
                    port: None,
                });
            }
        }
        for o in extra_origins {
            origins.push(parse_origin(o).ok_or_else(|| {
                PolicyError(format!(
                    "[http] allowed_origins: {o:?} is not an origin like \"https://app.example.com\", \"http://host:8080\" or \"http://host:*\""
                ))
            })?);
        }
        Ok(Policy {
            hosts,
            origins,
            token_digest: token.map(|t| Sha256::digest(t.as_bytes()).into()),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    pub fn has_token(&self) -> bool {
        self.token_digest.is_some()
    }

    /// Waits until no request is in flight, at most `limit`. Returns false
    /// on timeout.
    pub async fn wait_idle(&self, limit: std::time::Duration) -> bool {
        tokio::time::timeout(limit, self.in_flight.acquire_many(MAX_IN_FLIGHT as u32))
            .await
            .is_ok_and(|p| p.is_ok())
    }

    fn host_allowed(&self, value: &str) -> bool {
        let Some((host, port)) = split_host_port(value) else {
            return false;
        };
        self.hosts
            .iter()
            .any(|r| r.host == host && (r.port.is_none() || r.port == port))
    }

    fn origin_allowed(&self, value: &str) -> bool {
        let Some(o) = parse_origin(value) else {
            return false;
        };
        self.origins.iter().any(|r| {
            r.scheme == o.scheme && r.host == o.host && (r.port.is_none() || r.port == o.port)
        })
    }

    /// Constant-time check of an `Authorization` header value.
    fn token_ok(&self, header: Option<&HeaderValue>) -> bool {
        let Some(expected) = self.token_digest else {
            return true;
        };
        let Some(given) = header.and_then(|h| h.to_str().ok()).and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        }) else {
            return false;
        };
        // Comparing digests hides the token's length; the fold has no
        // data-dependent branch.
        let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        given
            .iter()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// A header value as shown in a message: at most 80 characters.
fn excerpt(s: &str) -> String {
    if s.chars().count() > 80 {
        format!(
            "{:?}… ({} bytes)",
            s.chars().take(80).collect::<String>(),
            s.len()
        )
    } else {
        format!("{s:?}")
    }
}

pub(super) fn refuse(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, Json(serde_json::json!({"error": msg}))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// Layer on every route: `Host` and `Origin` must be allowed. A request
/// with more than one `Host` gets 400; an absolute-form request target
/// (`POST http://host/mcp`) must name an allowed authority, the same one as
/// `Host` when both are sent.
pub async fn host_origin(
    State(policy): State<Arc<Policy>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host_header = hosts.next().map(|h| h.to_str().unwrap_or(""));
    if hosts.next().is_some() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "more than one Host header; send exactly one",
        );
    }
    let authority = req.uri().authority().map(|a| a.as_str());
    if let (Some(h), Some(a)) = (host_header, authority)
        && split_host_port(h) != split_host_port(a)
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!(
                "the request target names {} but Host is {}; they must agree",
                excerpt(a),
                excerpt(h)
            ),
        );
    }
    match host_header.or(authority) {
        Some(h) if policy.host_allowed(h) => {}
        Some(_) => {
            return refuse(
                StatusCode::FORBIDDEN,
                "Host not allowed (add it to [http] allowed_hosts in .roo/orchestrator.toml)",
            );
        }
        None => return refuse(StatusCode::FORBIDDEN, "missing Host header"),
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| policy.origin_allowed(o));
        if !ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "Origin not allowed (add it to [http] allowed_origins in .roo/orchestrator.toml)",
            );
        }
    }
    next.run(req).await
}

/// Layer on the MCP routes: the bearer token, when one is configured.
pub async fn bearer(State(policy): State<Arc<Policy>>, req: Request<Body>, next: Next) -> Response {
    if !policy.token_ok(req.headers().get(header::AUTHORIZATION)) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (send Authorization: Bearer <token>)",
        );
    }
    next.run(req).await
}

/// Layer on the routes that do work: a bounded number of requests in
/// flight, each counted until its response body is complete. A `GET` opens
/// a long-lived event stream and is not counted.
pub async fn admission(
    State(policy): State<Arc<Policy>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    if req.method() == axum::http::Method::GET {
        return next.run(req).await;
    }
    let Ok(permit) = Arc::clone(&policy.in_flight).try_acquire_owned() else {
        let mut r = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight; retry",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let (parts, body) = next.run(req).await.into_parts();
    Response::from_parts(
        parts,
        Body::new(PermitBody {
            inner: body,
            _permit: permit,
        }),
    )
}

/// A response body that holds an in-flight permit until it is finished.
struct PermitBody {
    inner: Body,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for PermitBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let p = Policy::new("127.0.0.1", &["example.com:8443".into()], &[], None).unwrap();
        for ok in [
            "localhost",
            "localhost:8000",
            "127.0.0.1:1",
            "[::1]:80",
            "LOCALHOST",
            "example.com:8443",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "127.0.0.2",
            "example.com",
            "example.com:80",
            "",
            "localhost:x",
        ] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
        let p = Policy::new("10.0.0.5", &[], &[], Some("t")).unwrap();
        assert!(p.host_allowed("10.0.0.5:8000"));
        let p = Policy::new("0.0.0.0", &[], &[], Some("t")).unwrap();
        assert!(!p.host_allowed("0.0.0.0"));
    }

    #[test]
    fn origins() {
        let p = Policy::new(
            "127.0.0.1",
            &[],
            &[
                "https://app.example.com".into(),
                "http://dev.local:*".into(),
            ],
            None,
        )
        .unwrap();
        for ok in [
            "http://localhost:3000",
            "https://127.0.0.1",
            "http://[::1]:5173",
            "https://app.example.com",
            "https://app.example.com:443",
            "http://dev.local:9999",
        ] {
            assert!(p.origin_allowed(ok), "{ok}");
        }
        for bad in [
            "http://evil.com",
            "https://app.example.com:8443",
            "http://app.example.com",
            "null",
            "file://x",
            "http://localhost.evil.com",
        ] {
            assert!(!p.origin_allowed(bad), "{bad}");
        }
        assert!(Policy::new("127.0.0.1", &[], &["example.com".into()], None).is_err());
    }

    #[test]
    fn tokens_compare_exactly() {
        let p = Policy::new("127.0.0.1", &[], &[], Some("s3cret")).unwrap();
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert!(p.token_ok(Some(&h("Bearer s3cret"))));
        assert!(!p.token_ok(Some(&h("Bearer s3cre"))));
        assert!(!p.token_ok(Some(&h("Bearer s3cret2"))));
        assert!(!p.token_ok(Some(&h("Basic s3cret"))));
        assert!(!p.token_ok(None));
        let open = Policy::new("127.0.0.1", &[], &[], None).unwrap();
        assert!(open.token_ok(None));
    }

    #[test]
    fn loopback_detection() {
        for h in ["127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["0.0.0.0", "10.0.0.1", "example.com", "::"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
