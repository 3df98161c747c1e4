//! What the vm and container contexts share to start a victim somewhere isolated, so that
//! neither imports the other: the static confidump that a guest's `/init` and an OCI bundle
//! run ([`init`]), a victim started in new namespaces ([`namespaces`]: the container
//! context's `namespaces` runtime, and a pod VM's container inside the guest), the `pod`
//! column's attacker placed beside a victim as a sibling container or a `hostPID` pod
//! ([`sibling`]: on the host, and in a guest for Yama), and the standard streams handed to such
//! a child ([`ChildStdio`]).

pub mod init;
pub mod namespaces;
pub mod sibling;

use std::os::fd::OwnedFd;

/// The child's three standard streams, and our ends of them.
pub(crate) struct ChildStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}
