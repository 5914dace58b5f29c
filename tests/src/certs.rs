//! Certificates generated at test time with rcgen: a CA, server certificates (v3, with SANs,
//! `serverAuth`) and client certificates (v3, `clientAuth`, the user name as subject CN),
//! certificate revocation lists, plus a temporary directory to write them to for servers that
//! read PEM files.
//!
//! ```
//! let ca = reflex_tests::certs::Ca::new("test CA");
//! let server = ca.server(&["localhost", "127.0.0.1"]);
//! let client = ca.client("example-username");
//! let dir = reflex_tests::certs::TempDir::new("certs-doc");
//! let cert_file = dir.write("server.pem", &server.combined_pem());
//! assert!(cert_file.exists());
//! # let _ = client;
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};

/// A certificate authority that signs leaves.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

/// A certificate and its private key.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key (PKCS#8), DER.
    pub key_der: Vec<u8>,
    /// The serial number (big-endian), which a CRL names to revoke the certificate.
    pub serial: Vec<u8>,
}

impl Leaf {
    /// Certificate and key in one PEM (as ReflectRPC's `server.pem`).
    pub fn combined_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

impl Ca {
    /// A new self-signed CA with this subject CN (two CAs with the same CN are still
    /// different CAs: their keys differ).
    pub fn new(cn: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("key generation");
        let cert = params.self_signed(&key).expect("self-signed CA");
        Ca { cert_pem: cert.pem(), cert_der: cert.der().to_vec(), issuer: Issuer::new(params, key) }
    }

    /// A server certificate for `names` (DNS names or IP addresses, all in the SAN; the
    /// first is also the subject CN).
    pub fn server(&self, names: &[&str]) -> Leaf {
        let cn = names.first().copied().unwrap_or("server");
        self.leaf(cn, names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate whose subject CN is `cn` (the user name servers derive).
    pub fn client(&self, cn: &str) -> Leaf {
        self.leaf(cn, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A certificate revocation list (PEM) by this CA that revokes `revoked` (possibly none),
    /// valid from 2024 to 2099.
    pub fn crl(&self, revoked: &[&Leaf]) -> String {
        static NUMBER: AtomicU64 = AtomicU64::new(1);
        let params = CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2024, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(NUMBER.fetch_add(1, Ordering::Relaxed)),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|leaf| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&leaf.serial),
                    revocation_time: rcgen::date_time_ymd(2024, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).expect("signed CRL").pem().expect("CRL PEM")
    }

    fn leaf(&self, cn: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("valid names");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let serial = unique_serial();
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let key = KeyPair::generate().expect("key generation");
        let cert = params.signed_by(&key, &self.issuer).expect("signed leaf");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            serial,
        }
    }
}

/// A serial number no other certificate of this test run has (16 bytes, positive): the
/// process, the time and a counter.
fn unique_serial() -> Vec<u8> {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut serial = Vec::with_capacity(16);
    serial.extend_from_slice(&(nanos ^ u64::from(std::process::id()).rotate_left(40)).to_be_bytes());
    serial.extend_from_slice(&N.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    // Positive, and without a leading zero byte that DER would drop.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}

/// A fresh directory under the system temporary directory, removed (with its contents) when
/// dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `reflex-<prefix>-<pid>-<n>` in the temporary directory.
    pub fn new(prefix: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("reflex-{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temporary directory");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents).expect("write temporary file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
