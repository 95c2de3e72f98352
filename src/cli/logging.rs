//! Logs on standard error: warnings by default, debug with `-v`, the SDK's own with `-vv`.

use std::collections::HashSet;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub fn init(verbose: u8) {
    let _ = tracing_subscriber::registry()
        .with(
            layer(std::io::stderr)
                // Colour codes only for a terminal: a log file or CI output gets plain text.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(EnvFilter::new(filter(verbose)))
                .with_filter(WarnOnce::default()),
        )
        .try_init();
}

fn filter(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "hikkonuki=debug,warn",
        _ => "debug",
    }
}

fn layer<S, W>(
    writer: W,
) -> tracing_subscriber::fmt::Layer<
    S,
    tracing_subscriber::fmt::format::DefaultFields,
    tracing_subscriber::fmt::format::Format,
    W,
>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer().with_writer(writer)
}

/// Lets each warning (or error) through once. The SDK reads the AWS configuration files once for each
/// provider it builds (the region's, the credentials', the other settings'), and says what it finds odd
/// in them (a `[profile x]` section in the credentials file) each time: the same two lines, three times
/// over, before anything the run does. Debug lines all pass: `-v` shows every call.
#[derive(Default)]
struct WarnOnce {
    seen: Mutex<HashSet<String>>,
}

impl<S> Filter<S> for WarnOnce {
    fn enabled(&self, _meta: &tracing::Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _cx: &Context<'_, S>) -> bool {
        if *event.metadata().level() > tracing::Level::WARN {
            return true;
        }
        let mut said = Said(format!("{}:", event.metadata().target()));
        event.record(&mut said);
        self.seen
            .lock()
            .map(|mut seen| seen.insert(said.0))
            .unwrap_or(true)
    }
}

/// An event's fields as one text, to compare one warning with another.
struct Said(String);

impl Visit for Said {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(verbose: u8, log: impl FnOnce()) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry().with(
            layer(move || writer.clone())
                .with_ansi(false)
                .with_filter(EnvFilter::new(filter(verbose)))
                .with_filter(WarnOnce::default()),
        );
        tracing::subscriber::with_default(subscriber, log);
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_warning_repeated_by_each_provider_the_sdk_builds_is_said_once() {
        let text = logged(0, || {
            for _ in 0..3 {
                tracing::warn!(target: "aws_runtime::env_config::normalize", "profile `profile other` ignored because `profile other` was not a valid identifier");
                tracing::warn!(target: "aws_runtime::env_config::normalize", "profile `profile x` ignored");
            }
            tracing::warn!(target: "hikkonuki::pacing", calls = 3, "throttled");
            tracing::warn!(target: "hikkonuki::pacing", calls = 4, "throttled");
        });
        assert_eq!(
            text.matches("profile other").count(),
            2,
            "one line, naming it twice: {text}"
        );
        assert_eq!(text.matches("profile `profile x`").count(), 1, "{text}");
        assert_eq!(
            text.matches("throttled").count(),
            2,
            "different fields are different warnings: {text}"
        );
    }

    #[test]
    fn debug_lines_all_pass_with_v() {
        let text = logged(1, || {
            for _ in 0..3 {
                tracing::debug!(target: "hikkonuki::engine", "checking");
            }
        });
        assert_eq!(text.matches("checking").count(), 3, "{text}");
    }
}
