//! Choosing the backend from a URL (CONVENTIONS 13), with a redacted form for logs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Backend;

const EXPECTED: &str = "expected postgres://user@host:5432/db or sqlite://path/to/galien.db";

/// Where the data lives. `Debug` is redacted: a PostgreSQL password never shows.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file (the embedded default).
    Sqlite {
        /// Path of the database file (relative paths are relative to the working directory).
        path: PathBuf,
    },
    /// A PostgreSQL server shared by several nodes.
    Postgres {
        /// The full connection URL; may hold a password, so never log it: use [`DatabaseUrl::redacted`].
        url: String,
    },
}

/// A database URL that Galien does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL ({reason}): {EXPECTED}")]
pub struct DatabaseUrlError {
    reason: String,
}

impl DatabaseUrlError {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl DatabaseUrl {
    /// Parses `sqlite://relative/path.db`, `sqlite:///abs/path.db`, `sqlite:path.db`, `postgres://…` or
    /// `postgresql://…`. Touches nothing on disk or network.
    pub fn parse(s: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DatabaseUrlError::new("empty"));
        }
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path == "/" {
                return Err(DatabaseUrlError::new("sqlite URL without a file path"));
            }
            if path.contains('?') || path.contains('#') || path.starts_with(':') {
                return Err(DatabaseUrlError::new(
                    "sqlite URL must be a plain file path (no query, no :memory:)",
                ));
            }
            return Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(path),
            });
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            // Only the syntax is checked here; no connection is made.
            return match sqlx::postgres::PgConnectOptions::from_str(s) {
                Ok(_) => Ok(DatabaseUrl::Postgres { url: s.to_owned() }),
                Err(_) => Err(DatabaseUrlError::new("malformed postgres URL")),
            };
        }
        let scheme = s.split_once("://").map(|(scheme, _)| scheme);
        Err(DatabaseUrlError::new(match scheme {
            Some(scheme) if !scheme.is_empty() && scheme.len() < 20 => {
                format!("unsupported scheme {scheme:?}")
            }
            _ => "unrecognised".to_owned(),
        }))
    }

    /// The default embedded database: `<data_dir>/galien.db`.
    pub fn sqlite_in(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite {
            path: data_dir.join("galien.db"),
        }
    }

    /// Which backend this URL selects.
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite { .. } => Backend::Sqlite,
            DatabaseUrl::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The URL with any password replaced by `***`: safe for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => redact_postgres(url),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatabaseUrl::parse(s)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Splits `scheme://authority/rest` into (`scheme://`, authority, rest-with-leading-separator).
fn split_authority(url: &str) -> (&str, &str, &str) {
    let Some(idx) = url.find("://") else {
        return ("", "", url);
    };
    let (scheme, after) = url.split_at(idx + 3);
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    (scheme, authority, rest)
}

fn redact_postgres(url: &str) -> String {
    let (scheme, authority, rest) = split_authority(url);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}{authority}{path}");
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// The same PostgreSQL URL pointing at another database (used by the test harness).
pub(crate) fn postgres_with_database(url: &str, database: &str) -> String {
    let (scheme, authority, rest) = split_authority(url);
    let query = rest.find('?').map(|i| rest.split_at(i).1).unwrap_or("");
    format!("{scheme}{authority}/{database}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms_parse() {
        for (s, p) in [
            ("sqlite://relative/path.db", "relative/path.db"),
            ("sqlite:///abs/path.db", "/abs/path.db"),
            ("sqlite:path.db", "path.db"),
        ] {
            assert_eq!(
                DatabaseUrl::parse(s).unwrap(),
                DatabaseUrl::Sqlite { path: p.into() },
                "{s}"
            );
        }
    }

    #[test]
    fn postgres_forms_parse() {
        for s in [
            "postgres://u@h:5432/db",
            "postgresql://u:p@h/db?sslmode=disable",
        ] {
            assert_eq!(DatabaseUrl::parse(s).unwrap().backend(), Backend::Postgres);
        }
    }

    #[test]
    fn garbage_is_refused_with_the_expected_forms() {
        for s in [
            "",
            "   ",
            "mysql://u@h/db",
            "garbage",
            "sqlite:",
            "sqlite://",
            "postgres://u@h:notaport/db",
        ] {
            let e = DatabaseUrl::parse(s).unwrap_err().to_string();
            assert!(e.contains("postgres://user@host:5432/db"), "{s}: {e}");
            assert!(e.contains("sqlite://path/to/galien.db"), "{s}: {e}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let u = DatabaseUrl::parse(
            "postgres://alice:s3cret@db.example:5432/galien?password=other&sslmode=require",
        )
        .unwrap();
        let r = u.redacted();
        assert_eq!(
            r,
            "postgres://alice:***@db.example:5432/galien?password=***&sslmode=require"
        );
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(!format!("{u:?}").contains("other"));
        assert!(!u.to_string().contains("s3cret"));
    }

    #[test]
    fn database_can_be_swapped() {
        assert_eq!(
            postgres_with_database(
                "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
                "t1"
            ),
            "postgres://postgres@127.0.0.1:5432/t1?sslmode=disable"
        );
        assert_eq!(
            postgres_with_database("postgres://postgres@127.0.0.1", "t1"),
            "postgres://postgres@127.0.0.1/t1"
        );
    }

    #[test]
    fn sqlite_in_uses_galien_db() {
        assert_eq!(
            DatabaseUrl::sqlite_in(Path::new("/var/lib/galien")),
            DatabaseUrl::Sqlite {
                path: "/var/lib/galien/galien.db".into()
            }
        );
    }
}
