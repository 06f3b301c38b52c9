//! Opening one HTTP/1.1 connection: TCP, TLS when asked, the hyper handshake.

use std::future::Future;
use std::pin::{Pin, pin};
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::Poll;

use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::target::Target;
use crate::{Error, StreamOptions};

/// A byte stream hyper can drive: plain TCP or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The read buffer of a connection: an answer's head must fit in it (a
/// stream server's is a few hundred bytes); a body is read through it in
/// pieces of this size.
const READ_BUFFER: usize = 2048;

/// What drives one connection: reads and writes its socket.
type Driver<B> = http1::Connection<TokioIo<Box<dyn Io>>, B>;

/// One connection whose driver runs on the task that uses it: a stream
/// needs no second task (nor its wake-up per write) to move its bytes.
pub(crate) struct Connection<B>
where
    B: http_body::Body + 'static,
{
    pub(crate) send: SendRequest<B>,
    /// `None` once the connection has ended.
    driver: Option<Pin<Box<Driver<B>>>>,
}

impl<B> Connection<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// Awaits `fut` (a response, or its body) while driving the connection.
    /// When the connection ends first, it is dropped, so a pending answer
    /// resolves with the reason rather than waiting for ever.
    pub(crate) async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            if let Some(driver) = self.driver.as_mut()
                && let Poll::Ready(ended) = driver.as_mut().poll(cx)
            {
                // Its errors also reach the pending response, which is
                // where they are handled.
                if let Err(e) = ended {
                    tracing::debug!("stream connection ended: {e}");
                }
                self.driver = None;
                return fut.as_mut().poll(cx);
            }
            Poll::Pending
        })
        .await
    }
}

/// Connects to `target` and completes the HTTP/1.1 handshake, all within the
/// connect timeout; the caller drives the connection ([`Connection::drive`]).
pub(crate) async fn connect<B>(
    target: &Target,
    opts: &StreamOptions,
) -> Result<Connection<B>, Error>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connecting = async {
        let tcp = match opts.local_addr {
            None => TcpStream::connect((target.host.as_str(), target.port)).await,
            Some(local) => connect_from(local, target).await,
        }
        .map_err(|source| Error::Connect {
            addr: target.addr.clone(),
            source,
        })?;
        // Lines are small and latency matters more than packet count.
        tcp.set_nodelay(true).map_err(|source| Error::Connect {
            addr: target.addr.clone(),
            source,
        })?;
        let io = wrap_tls(target, opts, tcp).await?;
        // A stream reads one short answer; hyper's default read buffer of
        // 8 KiB per connection was a third of a load test's memory per stream.
        http1::Builder::new()
            .read_buf_exact_size(Some(READ_BUFFER))
            .handshake(TokioIo::new(io))
            .await
            .map_err(|source| Error::Http {
                addr: target.addr.clone(),
                source,
            })
    };
    let (send, driver) = tokio::time::timeout(opts.connect_timeout, connecting)
        .await
        .map_err(|_| Error::ConnectTimeout {
            addr: target.addr.clone(),
            timeout: opts.connect_timeout,
        })??;
    Ok(Connection {
        send,
        driver: Some(Box::pin(driver)),
    })
}

/// [`connect`], with the connection's driver on its own task: for one
/// request and its answer.
pub(crate) async fn open<B>(target: &Target, opts: &StreamOptions) -> Result<SendRequest<B>, Error>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Connection { send, driver } = connect(target, opts).await?;
    if let Some(driver) = driver {
        tokio::spawn(async move {
            if let Err(e) = driver.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    Ok(send)
}

/// Connects to `target` from the address `local` (any port).
async fn connect_from(local: std::net::IpAddr, target: &Target) -> std::io::Result<TcpStream> {
    let remote = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await?
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("{} has no address of {local}'s family", target.host),
            )
        })?;
    let socket = if local.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(std::net::SocketAddr::new(local, 0))?;
    socket.connect(remote).await
}

#[cfg(not(feature = "tls"))]
async fn wrap_tls(
    target: &Target,
    _opts: &StreamOptions,
    tcp: TcpStream,
) -> Result<Box<dyn Io>, Error> {
    if target.tls {
        return Err(Error::TlsDisabled {
            url: format!("https://{}", target.addr),
        });
    }
    Ok(Box::new(tcp))
}

/// The TLS client configuration: the public (webpki) roots, and the
/// certificates of [`StreamOptions::ca_certs_pem`].
#[cfg(feature = "tls")]
fn tls_config(target: &Target, opts: &StreamOptions) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use std::sync::OnceLock;

    let build = |roots: rustls::RootCertStore| {
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions")),
        )
    };
    let public = || rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let Some(pem) = &opts.ca_certs_pem else {
        static PUBLIC: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        return Ok(Arc::clone(PUBLIC.get_or_init(|| build(public()))));
    };
    let bad = |reason: String| Error::Tls {
        addr: target.addr.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
    };
    let mut roots = public();
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| bad(format!("the CA certificates: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("a CA certificate: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(bad(
            "the CA certificates hold no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    Ok(build(roots))
}

#[cfg(feature = "tls")]
async fn wrap_tls(
    target: &Target,
    opts: &StreamOptions,
    tcp: TcpStream,
) -> Result<Box<dyn Io>, Error> {
    if !target.tls {
        return Ok(Box::new(tcp));
    }
    let config = tls_config(target, opts)?;
    let name =
        rustls::pki_types::ServerName::try_from(target.host.clone()).map_err(|e| Error::Tls {
            addr: target.addr.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|source| Error::Tls {
            addr: target.addr.clone(),
            source,
        })?;
    Ok(Box::new(tls))
}
