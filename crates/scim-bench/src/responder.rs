//! A trivial static responder on raw hyper 1 (HTTP/1.1 keep-alive): every request gets the same
//! 200 answer with a user-sized SCIM body. Measuring the load generator against it shows the
//! generator's ceiling on this machine: the most requests/s any server could be credited with.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, header, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"static","externalId":"ext-static","userName":"static@bench.example","active":true,"displayName":"Static User","name":{"formatted":"Static User","familyName":"User","givenName":"Static"},"emails":[{"primary":true,"type":"work","value":"static@bench.example"}],"phoneNumbers":[{"type":"work","value":"+1 555 0000000"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"0","department":"Department 0"},"meta":{"resourceType":"User","version":"W/\"1\""}}"#;

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // The request body (if any) is dropped unread: hyper discards it before the next request.
    drop(request);
    let mut response = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/scim+json"),
    );
    Ok(response)
}

/// Serves until the process is stopped.
pub async fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    println!("static responder on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
