//! TLS helpers shared by the servers and the client: PEM loading, rustls configurations and
//! client-certificate identities.
//!
//! Everything uses rustls with the `ring` crypto provider and rustls' defaults (TLS 1.2 and
//! 1.3, the default cipher suites; servers can be limited to TLS 1.3 with
//! [`ServerTlsOptions::tls13_only`]). The provider is passed explicitly, so nothing depends on
//! a process-wide default being installed.
//!
//! PEM files may hold several sections: a certificate chain (leaf first), and a private key
//! (PKCS#8, PKCS#1 or SEC1). ReflectRPC keeps the server's certificate and key in one file;
//! [`server_config`] accepts that when no separate key file is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};

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
    /// A PEM file given as a CRL holds no certificate revocation list.
    #[error("no certificate revocation list (X509 CRL) found in {0}")]
    NoCrls(PathBuf),
    /// A client-certificate option that only means something with a client CA was given
    /// without one.
    #[error("{0} needs a client CA (--client-ca)")]
    NeedsClientCa(&'static str),
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

/// Every certificate revocation list in a PEM file (`-----BEGIN X509 CRL-----` sections).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let pem_err = |source| TlsError::Pem { path: path.to_path_buf(), source };
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(pem_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err)?;
    if crls.is_empty() {
        return Err(TlsError::NoCrls(path.to_path_buf()));
    }
    Ok(crls)
}

/// How a TLS server authenticates clients and which protocol versions it accepts, beyond its
/// own certificate and key. [`Default`]: TLS 1.2 and 1.3, no client certificates.
#[derive(Debug, Clone, Default)]
pub struct ServerTlsOptions {
    /// PEM file with the CA(s) client certificates must be signed by. When set, a client
    /// certificate is **required**.
    pub client_ca: Option<PathBuf>,
    /// PEM files with certificate revocation lists for the client CAs (needs
    /// [`Self::client_ca`]). Every certificate of a client's chain except the trust anchor is
    /// checked, and one whose status no CRL gives is refused (fail closed), so the CRL of
    /// every issuing CA must be there. Read once, when the configuration is built.
    pub client_crl: Vec<PathBuf>,
    /// When not empty, only client certificates whose subject CN (the user name) is one of
    /// these are accepted, exactly as written (needs [`Self::client_ca`]).
    pub client_cn: Vec<String>,
    /// Accept TLS 1.3 only, instead of 1.3 and 1.2.
    pub tls13_only: bool,
}

/// A server configuration: the certificate chain from `cert`, the key from `key` (or, when
/// `key` is `None`, from the `cert` file itself), and the client authentication and protocol
/// versions of `options`: with a client CA, a **required** client certificate signed by one
/// of the CAs in that file, not revoked by the CRLs, and with an allowed CN.
///
/// Without a client CA every client is served, unauthenticated.
pub fn server_config(
    cert: &Path,
    key: Option<&Path>,
    options: &ServerTlsOptions,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain = load_certs(cert)?;
    let key = load_private_key(key.unwrap_or(cert))?;
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone());
    let builder = if options.tls13_only {
        builder.with_protocol_versions(&[&rustls::version::TLS13])?
    } else {
        builder.with_safe_default_protocol_versions()?
    };
    let builder = match &options.client_ca {
        Some(ca) => {
            let roots = Arc::new(load_root_store(ca)?);
            let mut crls = Vec::new();
            for path in &options.client_crl {
                crls.extend(load_crls(path)?);
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider).with_crls(crls).build()?;
            if options.client_cn.is_empty() {
                builder.with_client_cert_verifier(verifier)
            } else {
                builder.with_client_cert_verifier(Arc::new(AllowedNames {
                    inner: verifier,
                    names: options.client_cn.clone(),
                }))
            }
        }
        None if !options.client_crl.is_empty() => return Err(TlsError::NeedsClientCa("a client CRL")),
        None if !options.client_cn.is_empty() => return Err(TlsError::NeedsClientCa("a client CN allow-list")),
        None => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(chain, key)?)
}

/// A client-certificate verifier that accepts, of the certificates `inner` accepts, only
/// those whose subject CN is in `names`. The CN is checked during the handshake, so a
/// refused client gets a TLS alert (`access_denied`) and never a connection.
#[derive(Debug)]
struct AllowedNames {
    inner: Arc<dyn ClientCertVerifier>,
    names: Vec<String>,
}

impl ClientCertVerifier for AllowedNames {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // The chain first: a CN from an unverified certificate means nothing.
        let verified = self.inner.verify_client_cert(end_entity, intermediates, now)?;
        // The same CN the server takes as the user name (`peer_common_name`).
        match common_name(end_entity) {
            Some(cn) if self.names.contains(&cn) => Ok(verified),
            cn => {
                tracing::info!("client certificate refused: its CN {cn:?} is not on the allow-list");
                Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }
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
/// against that CA (and the CRLs and CN allow-list, if any) before this is called.
pub fn peer_common_name(conn: &rustls::CommonState) -> Option<String> {
    conn.peer_certificates().and_then(|certs| certs.first()).and_then(common_name)
}
