//! TLS helpers shared by the servers and the client: PEM loading, rustls configurations and
//! client-certificate identities.
//!
//! Everything uses rustls with the `ring` crypto provider and rustls' defaults (TLS 1.2 and
//! 1.3, the default cipher suites). The provider is passed explicitly, so nothing depends on a
//! process-wide default being installed.
//!
//! PEM files may hold several sections: a certificate chain (leaf first), and a private key
//! (PKCS#8, PKCS#1 or SEC1). ReflectRPC keeps the server's certificate and key in one file;
//! [`server_config`] accepts that when no separate key file is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS file or configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or decoded.
    #[error("cannot read PEM file {path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A PEM file holds no certificate.
    #[error("no certificate found in {0}")]
    NoCertificates(PathBuf),
    /// A PEM file holds no private key.
    #[error("no private key found in {0}")]
    NoPrivateKey(PathBuf),
    /// A CA certificate was rejected as a trust anchor.
    #[error("invalid CA certificate in {path}: {source}")]
    BadCa {
        /// The file.
        path: PathBuf,
        /// Why rustls rejected it.
        #[source]
        source: rustls::Error,
    },
    /// rustls rejected the configuration (e.g. the key does not match the certificate).
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The crypto provider every reflex TLS configuration uses (`ring`).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// All certificates in a PEM file, in file order (a chain is leaf first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |source| TlsError::Pem { path: path.to_path_buf(), source };
    let certs =
        CertificateDer::pem_file_iter(path).map_err(pem_err)?.collect::<Result<Vec<_>, _>>().map_err(pem_err)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates(path.to_path_buf()));
    }
    Ok(certs)
}

/// The first private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::from_pem_file(path) {
        Ok(key) => Ok(key),
        Err(rustls_pki_types::pem::Error::NoItemsFound) => Err(TlsError::NoPrivateKey(path.to_path_buf())),
        Err(source) => Err(TlsError::Pem { path: path.to_path_buf(), source }),
    }
}

/// A root store holding every certificate of a PEM file as a trust anchor.
pub fn load_root_store(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|source| TlsError::BadCa { path: path.to_path_buf(), source })?;
    }
    Ok(roots)
}

/// A server configuration: the certificate chain from `cert`, the key from `key` (or, when
/// `key` is `None`, from the `cert` file itself), and — when `client_ca` is given — a
/// **required** client certificate signed by one of the CAs in that file.
///
/// Without `client_ca` every client is served, unauthenticated.
pub fn server_config(
    cert: &Path,
    key: Option<&Path>,
    client_ca: Option<&Path>,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain = load_certs(cert)?;
    let key = load_private_key(key.unwrap_or(cert))?;
    let provider = provider();
    let builder =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(ca) => {
            let roots = Arc::new(load_root_store(ca)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(chain, key)?)
}

/// The first subject common name (CN) of a DER certificate, if it has one that is a string.
pub fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// The common name of the certificate the peer of a TLS connection presented (the leaf of
/// its chain), if it presented one. On a server whose configuration requires client
/// certificates ([`server_config`] with a client CA), the certificate has been verified
/// against that CA before this is called.
pub fn peer_common_name(conn: &rustls::CommonState) -> Option<String> {
    conn.peer_certificates().and_then(|certs| certs.first()).and_then(common_name)
}
