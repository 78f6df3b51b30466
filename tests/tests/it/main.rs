//! The integration tests, one binary: a test run links the mesh's crates
//! once instead of once per area (on two cores most of a cold run was
//! linking). One module per area; run one with `cargo test --test it
//! <area>::`, for example `cargo test -p mesh-tests --test it sweep::`.

mod billing_api;
mod billing_lifecycle;
mod bot_product;
mod cancellation;
mod dead_letters;
mod failover;
mod faults;
mod gateway_routes;
mod grpc_surface;
mod metrics;
mod money_paths;
mod one_process;
mod operator_access;
mod operator_admin;
mod outbox;
mod polling;
mod processes;
mod recovery;
mod redis_cluster;
mod redis_outage;
mod replicas;
mod stars;
mod sweep;
mod tls;
mod traces;
