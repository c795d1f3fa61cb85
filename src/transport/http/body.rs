//! Request bodies, as two axum middleware layers:
//!
//! * [`read_body`], on every route, outside admission control: the body is
//!   read whole within `[http] body_timeout_s` and [`MAX_BODY`] bytes, else
//!   408 (and the connection is closed) or 413. A client that dawdles over
//!   its body is therefore never counted as a request in flight.
//! * [`check_frame`], on `/mcp`: the [frame check](crate::transport::frame)
//!   before rmcp, so that a request rmcp could not read is answered with a
//!   JSON-RPC error instead of a bare HTTP error without its id.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use rmcp::model::ErrorCode;

use super::MAX_BODY;
use super::security::refuse;
use crate::transport::frame::{self, Rejection};

/// Layer on every route: reads the body whole, within `timeout` and
/// [`MAX_BODY`], and passes the request on with the bytes read.
pub async fn read_body(
    State(timeout): State<Duration>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let read = async {
        let mut buf = Vec::new();
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            if buf.len() + chunk.len() > MAX_BODY {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok::<_, String>(Some(Bytes::from(buf)))
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(Some(bytes))) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Ok(None)) => too_large(),
        Ok(Err(e)) => {
            tracing::debug!("cannot read a request body: {e}");
            closing(refuse(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the request body: {e}"),
            ))
        }
        Err(_) => closing(refuse(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} s ([http] body_timeout_s in .roo/orchestrator.toml)",
                timeout.as_secs_f64()
            ),
        )),
    }
}

fn too_large() -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than {MAX_BODY} bytes, the most accepted"),
    )
}

/// Asks hyper to close the connection after this response (the rest of
/// the body, if any, is not read).
fn closing(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Layer on `/mcp`: a POSTed frame that rmcp could not read is answered
/// here. A request with an id gets 200 with the JSON-RPC error (the client
/// matches it by id); anything else 400 with the error and `"id": null`.
pub async fn check_frame(req: Request<Body>, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // `read_body` has already read the body: this takes the bytes.
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    match frame::check(&bytes) {
        Ok(_) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(r) => answer(&r),
    }
}

/// The HTTP response carrying a frame's rejection.
pub fn answer(r: &Rejection) -> Response {
    let status = if r.code == ErrorCode::METHOD_NOT_FOUND {
        // Only a removed method of MCP 2026-07-28 is refused so here, and
        // that version wants 404 for it.
        StatusCode::NOT_FOUND
    } else if r.id.is_some() && !r.notification {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r.to_json(),
    )
        .into_response()
}
