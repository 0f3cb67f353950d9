//! Chain IDs (OCI image spec, "Layer ChainID"): the identity of a stack of layers.

use sha2::{Digest as _, Sha256};

/// Chain IDs for the layers with these diffIDs, bottom first:
/// `chainID(L0) = diffID(L0)`, `chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => {
                let h = Sha256::digest(format!("{prev} {d}").as_bytes());
                format!("sha256:{}", hex::encode(h))
            }
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_id_follows_the_spec() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        let expect = format!("sha256:{}", hex::encode(Sha256::digest(format!("{a} {b}"))));
        assert_eq!(ids[1], expect);
        assert!(chain_ids(&[]).is_empty());
    }
}
