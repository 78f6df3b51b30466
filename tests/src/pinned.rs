//! Release binaries pinned to a CPU, for the benchmarks (the tests use
//! [`crate::process`], which keeps logs per test and restarts).

use std::process::{Child, Command, Stdio};

/// A started binary, killed when dropped (also when a benchmark fails).
pub struct Pinned(Child);

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin_dir/binary args` pinned to `cpu` (taskset) with `env`
/// added; its stdout goes to `log` when given, else nowhere.
pub fn spawn(
    bin_dir: &str,
    binary: &str,
    args: &[&str],
    cpu: &str,
    env: &[(&str, String)],
    log: Option<&str>,
) -> std::io::Result<Pinned> {
    let stdout = match log {
        Some(path) => Stdio::from(std::fs::File::create(path)?),
        None => Stdio::null(),
    };
    Ok(Pinned(
        Command::new("taskset")
            .arg("-c")
            .arg(cpu)
            .arg(format!("{bin_dir}/{binary}"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()?,
    ))
}
