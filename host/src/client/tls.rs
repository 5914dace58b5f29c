//! The client side of TLS (`tls://` and `https://`): a rustls configuration on the `ring`
//! provider from [`ClientOptions`], PEM loading, and [`InsecureVerifier`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::ClientError;
use super::ClientOptions;

/// A rustls client configuration from `options`:
///
/// * server certificates are checked against `ca_file` if given, else against the Mozilla
///   root store (`webpki-roots`); `insecure` skips the check altogether ([`InsecureVerifier`]);
/// * `client_cert` (certificate chain PEM, private key PEM) is presented when the server asks;
/// * `alpn` lists the ALPN protocols to offer (`[b"http/1.1"]` for HTTPS, none for line TLS).
pub fn client_config(options: &ClientOptions, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let builder = if options.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(InsecureVerifier::new(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        match &options.ca_file {
            Some(path) => {
                for cert in load_certs(path)? {
                    roots.add(cert).map_err(|e| cert_error(path, e))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    let mut config = match &options.client_cert {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| ClientError::Certificate { path: cert.clone(), reason: e.to_string() })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The name the server certificate must carry: `override_name` if given, else `host` (a DNS
/// name or an IP address).
pub fn server_name(host: &str, override_name: Option<&str>) -> Result<ServerName<'static>, ClientError> {
    let name = override_name.unwrap_or(host);
    ServerName::try_from(name.to_string()).map_err(|e| ClientError::Tls(format!("invalid server name `{name}`: {e}")))
}

/// Every certificate in a PEM file (a chain: leaf first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| cert_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(path, e))?;
    if certs.is_empty() {
        return Err(cert_error(path, "no certificate found"));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ClientError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| cert_error(path, e))
}

fn cert_error(path: &Path, e: impl fmt::Display) -> ClientError {
    ClientError::Certificate { path: path.to_path_buf(), reason: e.to_string() }
}

/// A server certificate "verifier" that accepts **any** certificate for any name: no chain,
/// no expiry, no host name check. Handshake signatures are still checked, so the peer must
/// hold the key of the certificate it shows, but anyone can make such a certificate.
///
/// **For tests and development only** (self-signed device certificates on a bench): it gives
/// encryption without authentication, which an active attacker defeats trivially. Selected by
/// [`ClientOptions::insecure`].
#[derive(Debug)]
pub struct InsecureVerifier {
    provider: Arc<CryptoProvider>,
}

impl InsecureVerifier {
    /// A verifier checking handshake signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        InsecureVerifier { provider }
    }
}

impl ServerCertVerifier for InsecureVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
