//! `wasim trigger`: post one signed sample webhook to a receiver, to wire it up.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use wasim_sim::WorldSpec;
use wasim_sim::webhook::deliver::redact_url;
use wasim_sim::webhook::trigger::{self, EVENTS, TriggerPayload};

/// How long the receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `wasim trigger`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  wasim trigger --list
      every event with what it sends
  wasim trigger statuses.failed
      post a `failed` status (131049) to http://127.0.0.1:3000/webhook, signed
      with X-Hub-Signature-256 (HMAC-SHA256 of the body with the world's app secret)
  wasim trigger partner.channel_live --to http://127.0.0.1:4000/partner-hook
      a 360dialog partner webhook, signed with x-360dialog-signature
  wasim trigger template.status_update --world my-world.toml --print
      show the headers and body signed with your world's ids and secrets, post nothing

Exit codes: 0 when the receiver answers 2xx; 2 on any other answer, a refused
connection, a timeout (10 s) or an unknown event.")]
pub(crate) struct TriggerArgs {
    /// The event to send (`wasim trigger --list` shows them all).
    #[arg(value_name = "EVENT", required_unless_present = "list")]
    event: Option<String>,
    /// Where to post the webhook (http:// only).
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:3000/webhook"
    )]
    to: String,
    /// World file (TOML) whose ids and secrets to use; default: the built-in world.
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// List every event with a one-line description, then exit.
    #[arg(long, conflicts_with_all = ["event", "print"])]
    list: bool,
    /// Print the signed headers and body instead of posting them.
    #[arg(long)]
    print: bool,
}

pub(crate) fn run(args: TriggerArgs) -> anyhow::Result<()> {
    if args.list {
        let width = EVENTS.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, description) in EVENTS {
            println!("{name:<width$}  {description}");
        }
        return Ok(());
    }
    let event = args
        .event
        .as_deref()
        .context("missing EVENT (`wasim trigger --list` shows them all)")?;
    let spec = match &args.world {
        Some(path) => WorldSpec::from_file(path)?,
        None => WorldSpec::default(),
    };
    let payload = trigger::build(event, &spec).map_err(anyhow::Error::msg)?;
    let url = check_url(&args.to)?;
    if args.print {
        print_request(&url, &payload);
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(post(&url, &payload))
}

/// Accepts only http:// URLs: this build has no TLS (a tunnel's http address works).
fn check_url(to: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(to).map_err(|error| {
        anyhow::anyhow!(
            "invalid --to `{}`: {error}; expected a URL such as http://127.0.0.1:3000/webhook",
            redact_url(to)
        )
    })?;
    match url.scheme() {
        "http" if url.host_str().is_some() => Ok(url),
        "https" => anyhow::bail!(
            "invalid --to `{}`: https is not supported by this build; post to an http:// URL \
             (your receiver locally, or a tunnel's http address)",
            redact_url(to)
        ),
        _ => anyhow::bail!(
            "invalid --to `{}`: expected an http:// URL such as http://127.0.0.1:3000/webhook",
            redact_url(to)
        ),
    }
}

fn print_request(url: &reqwest::Url, payload: &TriggerPayload) {
    println!("POST {}", redact_url(url.as_str()));
    for (name, value) in payload.headers() {
        println!("{name}: {value}");
    }
    println!();
    println!("{}", String::from_utf8_lossy(&payload.body));
}

#[expect(
    clippy::disallowed_methods,
    reason = "the CLI measures the receiver's latency in wall time; no model code runs here"
)]
fn stopwatch() -> Instant {
    Instant::now()
}

async fn post(url: &reqwest::Url, payload: &TriggerPayload) -> anyhow::Result<()> {
    let shown = redact_url(url.as_str());
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .context("failed to build the HTTP client")?;
    let request = payload.request(&client, url.clone());
    let started = stopwatch();
    let result = request.send().await;
    let latency_ms = stopwatch().duration_since(started).as_millis();
    let header = payload.signing.header();
    let response = result.map_err(|error| {
        let listening = match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => shown.clone(),
        };
        let why = if error.is_timeout() {
            format!(
                "no answer within {} s — is your receiver blocking before it answers?",
                TIMEOUT.as_secs()
            )
        } else if error.is_connect() && connection_refused(&error) {
            format!("connection refused — is your receiver listening on {listening}?")
        } else if error.is_connect() {
            format!(
                "could not connect ({}) — is your receiver listening on {listening}?",
                innermost(&error)
            )
        } else {
            let cause = innermost(&error);
            format!(
                "{} ({cause}) — did your receiver close the connection without answering?",
                error.without_url()
            )
        };
        anyhow::anyhow!("failed to post {} to {shown}: {why}", payload.event)
    })?;
    let status = response.status();
    println!(
        "POST {shown} -> {status} in {latency_ms} ms ({}, signed with {header})",
        payload.event
    );
    anyhow::ensure!(
        status.is_success(),
        "the receiver at {shown} answered {status}: answer 2xx to acknowledge a webhook \
         (check that it verifies {header} with {})",
        payload.signing.key_name()
    );
    Ok(())
}

/// True if an I/O error in the chain is a refused connection.
fn connection_refused(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        source = current.source();
    }
    false
}

/// The innermost cause's message.
fn innermost(error: &reqwest::Error) -> String {
    let mut current: &(dyn std::error::Error + 'static) = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
