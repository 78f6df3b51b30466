//! TLS for the mesh's gRPC, optional and mutual when a CA is given.
//!
//! - `GRPC_TLS_CERT` + `GRPC_TLS_KEY` (PEM files): this process's identity,
//!   served by its gRPC server and presented by its gRPC clients.
//! - `GRPC_TLS_CA` (PEM file): the CA that signs the mesh's certificates.
//!   Clients verify servers against it; servers then require a client
//!   certificate signed by it (mutual TLS).
//!
//! Peers are then addressed with `https://` URLs. Kubernetes' native gRPC
//! probes do not speak TLS: with TLS on, probe the ports with `tcpSocket`.

use mesh_runtime::{ConfigError, Env};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The process's TLS material, read once at start-up.
#[derive(Clone)]
pub struct GrpcTls {
    identity: Option<(Vec<u8>, Vec<u8>)>,
    ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for GrpcTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never prints.
        f.debug_struct("GrpcTls")
            .field("identity", &self.identity.as_ref().map(|_| "***"))
            .field("ca", &self.ca.is_some())
            .finish()
    }
}

fn read(env: &Env, key: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    env.get(key)
        .map(|path| {
            std::fs::read(path)
                .map_err(|e| ConfigError::new(key, format!("cannot read {path}: {e}")))
        })
        .transpose()
}

impl GrpcTls {
    /// Reads `GRPC_TLS_CERT`, `GRPC_TLS_KEY` and `GRPC_TLS_CA`; `None` when
    /// none is set (plaintext gRPC).
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let (cert, key, ca) = (
            read(env, "GRPC_TLS_CERT")?,
            read(env, "GRPC_TLS_KEY")?,
            read(env, "GRPC_TLS_CA")?,
        );
        let identity = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "GRPC_TLS_KEY",
                    "required with GRPC_TLS_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "GRPC_TLS_CERT",
                    "required with GRPC_TLS_KEY",
                ));
            }
        };
        if identity.is_none() && ca.is_none() {
            return Ok(None);
        }
        Ok(Some(Self { identity, ca }))
    }

    /// The server side: this identity; client certificates required when a
    /// CA is configured. `None` when this process has no identity to serve.
    pub fn server(&self) -> Option<ServerTlsConfig> {
        let (cert, key) = self.identity.as_ref()?;
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &self.ca {
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        Some(config)
    }

    /// The client side: servers verified against the CA; this identity
    /// presented for mutual TLS.
    pub fn client(&self) -> ClientTlsConfig {
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.ca {
            config = config.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        config
    }
}
