//! SIGSTRUCT: the enclave's signed identity, which EINIT checks. A fresh RSA-3072 key with
//! public exponent 3 signs each run (with flexible launch control the kernel accepts any
//! signer); the signature is PKCS#1 v1.5 over SHA-256 of the two signed ranges of SIGSTRUCT,
//! and Q1 = floor(S^2 / M), Q2 = floor((S^3 - Q1*S*M) / M) let the CPU verify it cheaply.
//!
//! The layout and the signed ranges come from `sgxs::sigstruct::Signer`; the RSA arithmetic
//! from the `rsa` crate, plugged in through `sgxs`'s `SgxRsaOps`.

use num_traits::Zero;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sgx_isa::{AttributesFlags, Sigstruct};
use sgxs::crypto::{SgxRsaOps, SgxRsaPubOps};
use sgxs::sigstruct::{EnclaveHash, Signer};
use sha2::Sha256;

use super::layout::EnclaveImage;
use super::SgxError;

/// Bits of the signing key (SIGSTRUCT has room for exactly 3072).
pub const KEY_BITS: usize = 3072;
/// Public exponent (SIGSTRUCT requires 3).
pub const EXPONENT: u8 = 3;

/// An RSA-3072 key with e = 3, as `sgxs` wants to use one.
pub struct SigningKey(RsaPrivateKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([REDACTED; RSA-3072, e=3])")
    }
}

impl SigningKey {
    /// A fresh key from the OS random source.
    ///
    /// With e = 3 both primes must be 2 mod 3 (else 3 divides p-1 and no private exponent
    /// exists). The `rsa` crate's generic generator discards whole key pairs until that holds
    /// (four pairs on average); picking each prime until it is 2 mod 3, the two in parallel,
    /// does the same work in about a quarter of the time. The key is then assembled and
    /// validated by `rsa` itself (`from_components`).
    pub fn generate() -> Result<Self, SgxError> {
        let half = KEY_BITS / 2;
        let (p, q) = std::thread::scope(|s| {
            let q = s.spawn(|| prime_2_mod_3(half));
            (prime_2_mod_3(half), q.join())
        });
        let q = q.map_err(|_| SgxError::Sign("the prime generator thread panicked".into()))?;
        if p == q {
            return Err(SgxError::Sign("generated two equal primes".into()));
        }
        let one = BigUint::from(1u8);
        let e = BigUint::from(EXPONENT);
        let n = &p * &q;
        if n.bits() != KEY_BITS {
            return Err(SgxError::Sign(format!("modulus has {} bits", n.bits())));
        }
        // phi = (p-1)(q-1) = 1 mod 3 (both factors are 1 mod 3), so d = (2*phi + 1) / 3 is an
        // integer and 3*d = 2*phi + 1 = 1 (mod phi).
        let phi = (&p - &one) * (&q - &one);
        let d = (phi * BigUint::from(2u8) + &one) / &e;
        let key = RsaPrivateKey::from_components(n, e, d, vec![p, q])
            .map_err(|e| SgxError::Sign(format!("assembling the RSA-3072 key: {e}")))?;
        key.validate()
            .map_err(|e| SgxError::Sign(format!("validating the RSA-3072 key: {e}")))?;
        Ok(Self(key))
    }

    /// The public half.
    pub fn public(&self) -> RsaPublicKey {
        self.0.to_public_key()
    }
}

impl SgxRsaOps for SigningKey {
    type Error = rsa::Error;

    fn len(&self) -> usize {
        self.0.size() * 8
    }

    fn sign_sha256_pkcs1v1_5_with_q1_q2<H: AsRef<[u8]>>(
        &self,
        hash: H,
    ) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>), Self::Error> {
        let be = self.0.sign(Pkcs1v15Sign::new::<Sha256>(), hash.as_ref())?;
        let s = BigUint::from_bytes_be(&be);
        let (q1, q2) = q1_q2(&s, self.0.n());
        Ok((s.to_bytes_le(), q1.to_bytes_le(), q2.to_bytes_le()))
    }

    fn verify_sha256_pkcs1v1_5<S: AsRef<[u8]>, H: AsRef<[u8]>>(
        &self,
        sig: S,
        hash: H,
    ) -> Result<(), Self::Error> {
        let mut be = sig.as_ref().to_vec();
        be.reverse();
        self.public()
            .verify(Pkcs1v15Sign::new::<Sha256>(), hash.as_ref(), &be)
    }

    fn e(&self) -> Vec<u8> {
        self.0.e().to_bytes_le()
    }

    fn n(&self) -> Vec<u8> {
        self.0.n().to_bytes_le()
    }
}

impl SgxRsaPubOps for SigningKey {
    type Error = rsa::Error;

    fn calculate_q1_q2(&self, s: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Self::Error> {
        let (q1, q2) = q1_q2(&BigUint::from_bytes_be(s), self.0.n());
        Ok((q1.to_bytes_le(), q2.to_bytes_le()))
    }
}

/// A random prime of `bits` bits (top two bits set) that is 2 mod 3.
fn prime_2_mod_3(bits: usize) -> BigUint {
    use num_bigint_dig::RandPrime;
    let three = BigUint::from(3u8);
    let two = BigUint::from(2u8);
    let mut rng = rand_core::OsRng;
    loop {
        let p = rng.gen_prime(bits);
        if &p % &three == two {
            return p;
        }
    }
}

/// Q1 = floor(S^2 / M), Q2 = floor((S^3 - Q1*S*M) / M) (SDM, SIGSTRUCT). S^3 - Q1*S*M =
/// S * (S^2 mod M) >= 0, so the subtraction cannot underflow.
pub fn q1_q2(s: &BigUint, m: &BigUint) -> (BigUint, BigUint) {
    if m.is_zero() {
        return (BigUint::zero(), BigUint::zero());
    }
    let s2 = s * s;
    let q1 = &s2 / m;
    let s3 = &s2 * s;
    let q2 = (s3 - &q1 * s * m) / m;
    (q1, q2)
}

/// Signs `image`, whose MRENCLAVE is `mrenclave`, with `key`. ATTRIBUTES and MISCSELECT are
/// the image's, and their masks are all ones: the signature binds DEBUG (and XFRM) exactly, so
/// this SIGSTRUCT cannot be used to start a debug enclave with a production one's identity.
pub fn sign(
    image: &EnclaveImage,
    mrenclave: [u8; 32],
    key: &SigningKey,
) -> Result<Sigstruct, SgxError> {
    let mut signer = Signer::new(EnclaveHash::new(mrenclave));
    signer
        .attributes_flags(image.attributes.flags, !0)
        .attributes_xfrm(image.attributes.xfrm, !0)
        .miscselect(image.miscselect, !0);
    // Signer::sign asserts a 3072-bit key with e = 3: true of every SigningKey.
    if SgxRsaOps::len(key) != KEY_BITS || key.e() != [EXPONENT] {
        return Err(SgxError::Sign("the key is not RSA-3072 with e = 3".into()));
    }
    signer
        .sign::<_, super::measure::Sha256Ops>(key)
        .map_err(|e| SgxError::Sign(format!("signing SIGSTRUCT: {e}")))
}

/// SIGSTRUCT as the 1808 bytes EINIT reads.
pub fn sigstruct_bytes(sig: &Sigstruct) -> Vec<u8> {
    let bytes: &[u8] = sig.as_ref();
    bytes.to_vec()
}

/// True when `sig` asks for a debug enclave.
pub fn is_debug(sig: &Sigstruct) -> bool {
    sig.attributes.flags.contains(AttributesFlags::DEBUG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q1_q2_small_numbers() {
        // S = 10, M = 7: Q1 = 100 / 7 = 14; S^3 - Q1*S*M = 1000 - 980 = 20; Q2 = 20 / 7 = 2.
        let (q1, q2) = q1_q2(&BigUint::from(10u8), &BigUint::from(7u8));
        assert_eq!((q1, q2), (BigUint::from(14u8), BigUint::from(2u8)));
    }
}
