//! What this host's facts mean for the service context: pure verdicts over [`HostFacts`]
//! (PostgreSQL's server programs; an enclave in the database server, which no host has), each
//! the one sentence doctor prints and a database row's `n/a` cell says.

use crate::host::HostFacts;
use crate::model::Texts;

/// Why Always Encrypted with secure enclaves cannot be shown on any host: the enclave must be
/// inside the database server, which only such a service has (Azure SQL Database: a VBS
/// enclave on any hardware, or an SGX enclave on DC-series).
pub const SQL_ENCLAVE_MISSING: &str =
    "not available on this host: needs an enclave in the database server (Azure SQL Database: a VBS enclave, or an SGX enclave on DC-series hardware)";

/// Why no PostgreSQL victim can start here.
pub fn postgres_missing(f: &HostFacts) -> Option<Texts> {
    f.postgres.as_ref().err().map(|what| {
        Texts::new(
            format!("not available on this host: needs PostgreSQL ({what}: apt-get install postgresql)"),
            format!("このホストでは利用できない。PostgreSQL が必要（{what}。apt-get install postgresql）。"),
        )
    })
}

/// Why a row that needs an enclave in the database server cannot run here: never met by a host
/// ([`SQL_ENCLAVE_MISSING`], in both languages).
pub fn sql_enclave_missing() -> Texts {
    Texts::new(
        SQL_ENCLAVE_MISSING,
        "このホストでは利用できない。データベースサーバーの中にエンクレーブが必要（Azure SQL の VBS エンクレーブ、または DC シリーズのハードウェア上の SGX エンクレーブ）。",
    )
}
