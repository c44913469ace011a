//! Loading the Cedar policies: the built-in set, or the data controller's own files (ACC-5), always
//! validated against Galien's schema so a misspelt action or role stops the start instead of silently
//! opening or closing an access.

use cedar_policy::{PolicySet, Schema, ValidationMode, Validator};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The policies shipped with the binary.
pub const BUILTIN_POLICIES: &str = include_str!("../policies/galien.cedar");

/// The schema the policies are validated against (what Galien's code asks the gate).
pub const POLICY_SCHEMA: &str = include_str!("../policies/galien.cedarschema");

/// Where the policies in force come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// The built-in `galien.cedar`.
    Builtin,
    /// These `.cedar` files of the data directory.
    Files(Vec<PathBuf>),
}

/// Why the policies cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file does not parse.
    #[error("policy file {path} does not parse: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Cedar's message.
        message: String,
    },
    /// The policies do not match Galien's schema (unknown action, role, attribute…).
    #[error("policies do not match Galien's schema: {0}")]
    Invalid(String),
    /// The policy directory exists but holds no `.cedar` file.
    #[error("policy directory {0} holds no .cedar file (remove it to use the built-in policies)")]
    Empty(PathBuf),
    /// The built-in schema does not parse (a build defect).
    #[error("built-in policy schema is invalid: {0}")]
    Schema(String),
}

/// A validated policy set and its origin.
#[derive(Debug, Clone)]
pub struct Policies {
    pub(crate) set: PolicySet,
    pub(crate) schema: Schema,
    origin: PolicyOrigin,
    sources: Vec<(String, String)>,
}

pub(crate) fn schema() -> Result<Schema, PolicyError> {
    Schema::from_cedarschema_str(POLICY_SCHEMA)
        .map(|(s, _warnings)| s)
        .map_err(|e| PolicyError::Schema(e.to_string()))
}

impl Policies {
    /// The built-in policies.
    pub fn builtin() -> Result<Policies, PolicyError> {
        Self::from_sources(
            PolicyOrigin::Builtin,
            vec![("galien.cedar".to_owned(), BUILTIN_POLICIES.to_owned())],
        )
    }

    /// The policies in force for a data directory: every `*.cedar` file of `dir` (in name order) when
    /// the directory exists, else the built-in ones.
    pub fn for_directory(dir: &Path) -> Result<Policies, PolicyError> {
        if !dir.is_dir() {
            return Self::builtin();
        }
        let io = |source| PolicyError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cedar") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(PolicyError::Empty(dir.to_path_buf()));
        }
        let mut sources = Vec::new();
        for path in &files {
            let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
                path: path.clone(),
                source,
            })?;
            sources.push((path.display().to_string(), text));
        }
        Self::from_sources(PolicyOrigin::Files(files), sources)
    }

    fn from_sources(
        origin: PolicyOrigin,
        sources: Vec<(String, String)>,
    ) -> Result<Policies, PolicyError> {
        // Each file parses alone (so errors name it), then all of them form one set.
        for (name, text) in &sources {
            PolicySet::from_str(text).map_err(|e| PolicyError::Parse {
                path: PathBuf::from(name),
                message: flatten(&e),
            })?;
        }
        let all: String = sources
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let set = PolicySet::from_str(&all).map_err(|e| PolicyError::Parse {
            path: PathBuf::from("<all policy files>"),
            message: flatten(&e),
        })?;
        let schema = schema()?;
        let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(PolicyError::Invalid(errors.join("; ")));
        }
        Ok(Policies {
            set,
            schema,
            origin,
            sources,
        })
    }

    /// Where they come from.
    pub fn origin(&self) -> &PolicyOrigin {
        &self.origin
    }

    /// The text of each file, for display.
    pub fn sources(&self) -> &[(String, String)] {
        &self.sources
    }

    /// The `@id` annotation of the policy Cedar calls `id`, or its Cedar id.
    pub(crate) fn name_of(&self, id: &cedar_policy::PolicyId) -> String {
        self.set
            .policy(id)
            .and_then(|p| p.annotation("id").map(str::to_owned))
            .unwrap_or_else(|| id.to_string())
    }
}

fn flatten(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message.replace('\n', " ")
}
