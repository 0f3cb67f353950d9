//! `berth login [-u USER] [-p PASS | --password-stdin] [REGISTRY]`.

use std::io::{BufRead, IsTerminal, Write};

use berth_proto::v1::images_client::ImagesClient;
use berth_proto::v1::{LoginRequest, RegistryAuth};

use super::auth::{self, StoredAuth};
use super::{daemon_error, CliContext};

/// Arguments of `berth login`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registry host, e.g. `127.0.0.1:5000`; Docker Hub when omitted.
    pub server: Option<String>,
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: arguments are visible to other users).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

fn prompt(label: &str, hide: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!("cannot prompt for {label}: standard input is not a terminal");
    }
    eprint!("{label}: ");
    std::io::stderr().flush()?;
    let saved = if hide { echo_off()? } else { None };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = saved {
        let _ =
            nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, &t);
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn echo_off() -> anyhow::Result<Option<nix::sys::termios::Termios>> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let saved = tcgetattr(std::io::stdin())?;
    let mut t = saved.clone();
    t.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(std::io::stdin(), SetArg::TCSANOW, &t)?;
    Ok(Some(saved))
}

/// Runs `berth login`: verifies through berthd, then stores the credentials client-side.
pub async fn run(ctx: &CliContext, args: Args) -> anyhow::Result<()> {
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| auth::DOCKER_HUB.to_string());
    let username = match args.username {
        Some(u) => u,
        None => prompt("Username", false)?,
    };
    let password = if args.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        prompt("Password", true)?
    };
    if username.is_empty() || password.is_empty() {
        anyhow::bail!("Error: username and password are required");
    }
    let mut client = ImagesClient::new(ctx.channel().await?);
    let r = client
        .login(LoginRequest {
            server: server.clone(),
            auth: Some(RegistryAuth {
                username: username.clone(),
                password: password.clone(),
                identity_token: String::new(),
            }),
        })
        .await
        .map_err(daemon_error)?
        .into_inner();
    let stored = StoredAuth {
        username,
        password,
        identity_token: r.identity_token,
    };
    let path = auth::store(&server, &stored)?;
    eprintln!("Credentials stored in {}", path.display());
    println!(
        "{}",
        if r.status.is_empty() {
            "Login Succeeded"
        } else {
            &r.status
        }
    );
    Ok(())
}
