//! A consortium that changes while it runs, on real nodes (real libp2p,
//! sled, JSON-RPC, Tendermint): an organisation's node joins as an observer
//! registered by governance, syncs, is added as a validator and starts
//! voting without a restart; a member leaves and keeps following; a member
//! rotates its key and votes with the new one after a restart. Through all
//! of it: one chain, every mint acknowledged is committed, and every
//! certificate — minted before, between and after the changes — verifies
//! offline against the genesis alone.

use keepsake_rpc::KeepsakeApiClient;
use keepsake_tests::{Cluster, mint, setup_series};
use keepsake_types::membership::SET_CHANGE_DELAY;
use keepsake_types::{Keypair, PublicKey, SeriesId, SignedTx, TxBody, Validator, ValidatorChange, ids};

/// Signs `body` with two of the three governors and `extra`.
fn governed(c: &Cluster, body: TxBody, extra: &[&Keypair]) -> SignedTx {
    let mut signers = vec![&c.governors[0], &c.governors[1]];
    signers.extend_from_slice(extra);
    body.sign(c.chain(), &signers)
}

/// Whether `key` signed the commit of some block in `from..=to` on node `via`.
async fn signed_between(c: &Cluster, via: usize, key: &PublicKey, from: u64, to: u64) -> bool {
    for h in from..=to {
        let block = c.client(via).get_block(h).await.unwrap();
        if block.commit.signatures.iter().any(|s| &s.validator == key) {
            return true;
        }
    }
    false
}

/// Waits until a commit at or above `from`, read from node `via`, carries `key`'s signature.
async fn wait_for_signature_of(c: &Cluster, via: usize, key: &PublicKey, from: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut next = from;
    loop {
        let tip = c.client(via).status().await.unwrap().height;
        while next <= tip {
            let block = c.client(via).get_block(next).await.unwrap();
            if block.commit.signatures.iter().any(|s| &s.validator == key) {
                return next;
            }
            next += 1;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no commit from height {from} on carries {key}'s signature"
        );
        // Mints keep blocks coming.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn mint_some(c: &Cluster, via: usize, series: SeriesId, editions: std::ops::Range<u32>) -> u64 {
    let mut height = 0;
    for e in editions {
        height = c.commit(via, mint(c, series, e)).await;
    }
    height
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_leave_and_rotate_keys_and_every_certificate_still_verifies_from_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "dunhuang", 1000).await;
    let mut editions = 1u32;
    mint_some(&c, 0, series, editions..editions + 3).await;
    editions += 3;

    // A fifth organisation: governance registers its node as an observer, so
    // the members admit it without editing their configs; it syncs.
    let five = c.add_home().unwrap();
    let five_key = c.validator_key(five).unwrap();
    let nonce = 1000;
    let h = c
        .commit(
            0,
            governed(
                &c,
                TxBody::RegisterObserver { observer: five_key.public(), name: "Fifth museum".into(), nonce },
                &[],
            ),
        )
        .await;
    c.start_node(five).await.unwrap();
    c.wait_height(&[five], h).await;

    // It becomes a validator: governors and its own key sign; it votes from
    // two heights later, without a restart.
    let add = ValidatorChange::Add {
        validator: Validator { public_key: five_key.public(), power: 1, name: "Fifth museum".into() },
    };
    let added_at = c
        .commit(1, governed(&c, TxBody::ChangeValidators { change: add, nonce: nonce + 1 }, &[&five_key]))
        .await;
    let in_force = added_at + SET_CHANGE_DELAY;
    mint_some(&c, 0, series, editions..editions + 3).await;
    editions += 3;
    let voted = wait_for_signature_of(&c, 0, &five_key.public(), in_force).await;
    assert!(voted >= in_force);
    assert!(
        !signed_between(&c, 0, &five_key.public(), 1, in_force - 1).await,
        "it signed before it was a validator"
    );

    // Organisation 3 leaves: it stops voting and keeps following.
    let leaving = c.validator_key(3).unwrap().public();
    let removed_at = c
        .commit(
            0,
            governed(
                &c,
                TxBody::ChangeValidators {
                    change: ValidatorChange::Remove { public_key: leaving },
                    nonce: nonce + 2,
                },
                &[],
            ),
        )
        .await;
    let removed_from = removed_at + SET_CHANGE_DELAY;
    let after_removal = mint_some(&c, 0, series, editions..editions + 4).await;
    editions += 4;
    c.wait_height(&[3], after_removal).await;
    assert!(
        !signed_between(&c, 0, &leaving, removed_from, after_removal).await,
        "a removed validator's signature is in a commit after its removal"
    );

    // Organisation 1 rotates its key: governors and the new key sign; once
    // the change is in force its operator restarts the node with the new key.
    let new_key = keepsake::keyfile::generate().unwrap();
    let old_key = c.validator_key(1).unwrap().public();
    let rotate = ValidatorChange::RotateKey { old_key, new_key: new_key.public() };
    let rotated_at = c
        .commit(0, governed(&c, TxBody::ChangeValidators { change: rotate, nonce: nonce + 3 }, &[&new_key]))
        .await;
    c.wait_height(&[0, 1, 2, 3, five], rotated_at + SET_CHANGE_DELAY).await;
    c.stop_node(1).await.unwrap();
    c.replace_key(1, &new_key).unwrap();
    c.start_node(1).await.unwrap();
    let rotated_from = rotated_at + SET_CHANGE_DELAY;
    let tip = mint_some(&c, 0, series, editions..editions + 3).await;
    editions += 3;
    let signed_new = wait_for_signature_of(&c, 0, &new_key.public(), rotated_from).await;
    assert!(signed_new >= rotated_from);
    assert!(!signed_between(&c, 0, &old_key, rotated_from, tip).await, "the retired key still signs");

    // One chain everywhere.
    let tip = c.client(0).status().await.unwrap().height;
    c.wait_height(&[0, 1, 2, 3, five], tip).await;
    for h in 1..=tip {
        let first = c.client(0).get_block(h).await.unwrap().hash;
        for i in [1, 2, 3, five] {
            assert_eq!(c.client(i).get_block(h).await.unwrap().hash, first, "node {i} differs at height {h}");
        }
    }

    // Every certificate, minted before, between and after the changes,
    // verifies offline from the genesis alone, through three transitions.
    for e in 1..editions {
        let id = ids::certificate_id(c.chain(), &series, e);
        for via in [2, five] {
            let cert = c.client(via).get_certificate(id).await.unwrap().certificate;
            assert_eq!(cert.transitions.len(), 3, "edition {e} via node {via}");
            let v = cert.verify(&c.genesis).unwrap_or_else(|err| panic!("edition {e} via node {via}: {err}"));
            assert_eq!(v.set_changes, 3);
            // The checkpoint's set: four validators of power 1 (one added, one removed, one rotated).
            assert_eq!(v.total_power, 4, "edition {e}");
            let status = c.client(via).get_certificate_status(id).await.unwrap();
            status.verify(&c.genesis, &v).unwrap();
        }
    }
    c.shutdown().await;
}
