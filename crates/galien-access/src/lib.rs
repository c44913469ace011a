//! The access gate (ACC-1 … ACC-6): every read or write of health data asks [`Gate::decide`], which
//! evaluates the Cedar policies (deny by default) and answers with a [`Permit`] or a [`Denial`].
//!
//! A `Permit` can only be created here. The store's functions that touch health data take one by
//! value, keep to the patient and action it names, and append its audit record in the same
//! transaction as the read or write it allows (TRACE-1, ACC-6). A `Denial` carries the audit record of
//! the refusal, which the caller appends before answering.
//!
//! The policies are readable `.cedar` files shipped with the binary ([`BUILTIN_POLICIES`]) and
//! replaceable from the data directory (ACC-5); [`Gate::matrix`] prints who may do what under the
//! policies in force.
//!
//! Nothing outside this crate can make a `Permit` (its fields are private and it has no public
//! constructor), so a handler that skipped the gate does not compile:
//!
//! ```compile_fail
//! fn forge() -> galien_access::Permit {
//!     galien_access::Permit {}
//! }
//! ```
//!
//! ```compile_fail
//! fn copy(p: &galien_access::Permit) -> galien_access::Permit {
//!     p.clone() // one permit, one access, one trace: it cannot be duplicated
//! }
//! ```

mod action;
mod gate;
mod matrix;
mod policy;
mod relationship;

pub use action::Action;
pub use gate::{AccessRequest, Denial, Gate, Permit, Principal};
pub use matrix::{Matrix, MatrixRow, PRINCIPAL_ROLES};
pub use policy::{BUILTIN_POLICIES, POLICY_SCHEMA, Policies, PolicyError, PolicyOrigin};
pub use relationship::{Relationship, Relationships};
