//! The fake cluster over plain HTTP/1.1 on a loopback port: each request is
//! read whole, handed to the stand-in as the in-process client would hand
//! it, and its answer written back. Plain HTTP because the kubeconfig a
//! test writes names `http://127.0.0.1:<port>`, as for `kubectl proxy`.

use std::convert::Infallible;

use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

/// Listens on `127.0.0.1:0`; returns the URL and the accepting task.
pub(super) async fn serve(cluster: kube::Client) -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("the port bound"));
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let cluster = cluster.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| forward(cluster.clone(), req));
                // A client hanging up mid-request is its business, not the test's.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, task)
}

async fn forward(cluster: kube::Client, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (head, body) = req.into_parts();
    let answer = async {
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        let request = Request::from_parts(head, kube::client::Body::from(body));
        let (head, body) = cluster.send(request).await.map_err(|e| e.to_string())?.into_parts();
        let body = body.collect_bytes().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(Response::from_parts(head, Full::new(body)))
    };
    Ok(answer.await.unwrap_or_else(|message| {
        let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": format!("the fake API server failed: {message}"), "reason": "InternalError", "code": 500});
        let mut response = Response::new(Full::new(Bytes::from(status.to_string())));
        *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        response.headers_mut().insert(http::header::CONTENT_TYPE, "application/json".parse().unwrap());
        response
    }))
}
