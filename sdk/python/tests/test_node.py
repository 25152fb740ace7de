"""Against a real node: ``keepsake dev`` started by the ``dev_node`` fixture (conftest.py).

The tests run in file order and share one chain (``World``): governance registers
the issuer and reviewer, a reviewed series is created, editions are minted one by
one and in a batch, certificates are fetched and verified offline against the dev
home's genesis.json, a transfer is refused, a revocation is proven, a certificate is
refreshed, and bodies 12-18 (licences, recipes and synthesis, a blind box) each go
through the node at least once.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List

import pytest

import keepsake
from conftest import DevNode


@dataclass
class World:
    node: DevNode
    client: keepsake.Client
    governor: keepsake.Keypair
    issuer: keepsake.Keypair
    reviewer: keepsake.Keypair
    holder: bytes = keepsake.holder_id("5f2c9a", "alice@example.com")
    other_holder: bytes = keepsake.holder_id("5f2c9a", "bob@example.com")
    series: bytes = b""
    certs: List[bytes] = field(default_factory=list)
    saved: Dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(dev_node: DevNode) -> Iterator[World]:
    with keepsake.Client(dev_node.url) as client:
        yield World(
            node=dev_node,
            client=client,
            governor=dev_node.key("governor"),
            issuer=dev_node.key("issuer"),
            reviewer=dev_node.key("reviewer"),
        )


def test_the_dev_home_has_its_keys_and_genesis(world: World) -> None:
    g = keepsake.load_genesis(world.node.genesis)
    assert g.chain_id == "keepsake-dev" == world.client.chain_id
    assert g.governors == [world.governor.public_key]
    assert world.client.get_genesis() == g
    status = world.client.status()
    assert status["chain_id"] == "keepsake-dev" and status["genesis_hash"] == g.hash().hex()


def test_governance_registers_the_issuer_and_the_reviewer(world: World) -> None:
    c = world.client
    c.register_issuer([world.governor], world.issuer.public_key, "Dunhuang Museum")
    c.register_reviewer([world.governor], world.reviewer.public_key, "Content review")
    assert c.get_issuer(world.issuer.public_key)["name"] == "Dunhuang Museum"
    # Registering again is refused at admission with its stable code.
    with pytest.raises(keepsake.RpcError) as e:
        c.register_issuer([world.governor], world.issuer.public_key, "again")
    assert (e.value.code, e.value.number) == ("IssuerAlreadyRegistered", 4010)
    # ensure_registered is a no-op now.
    c.ensure_registered(world.governor, issuer=world.issuer, reviewer=world.reviewer)


def test_a_reviewed_series_and_a_single_mint_committed_through_the_subscription(world: World) -> None:
    c = world.client
    world.series = c.create_series(
        world.issuer,
        reviewer_key=world.reviewer,
        name="Nine-coloured Deer",
        content=b"artwork:nine-coloured-deer",
        max_supply=300,
        metadata_uri="https://museum.example/deer.json",
    )
    info = c.get_series(world.series)
    assert info["name"] == "Nine-coloured Deer" and info["reviewer"] == world.reviewer.public_hex
    # Mint with an open subscription: the block that commits it is announced.
    with c.subscribe_blocks() as sub:
        tx = keepsake.sign(keepsake.Mint(world.series, 1, world.holder), c.chain_id, [world.issuer])
        tx_id = c.submit_tx(tx)
        assert tx_id == tx.id(c.chain_id).hex()
        status = c.wait_for_commit(tx_id)
        assert status.committed and status.height is not None
        heights = []
        while not heights or heights[-1] < status.height:
            block = sub.next(timeout=10)
            assert block is not None, "no block announced"
            heights.append(block.height)
        assert status.height in heights
    world.certs.append(keepsake.certificate_id(c.chain_id, world.series, 1))


def test_a_batch_mint_through_submit_txs(world: World) -> None:
    c = world.client
    ids = c.mint_batch(world.issuer, world.series, [(2, world.holder), (3, world.holder), (4, world.other_holder)])
    world.certs.extend(ids)
    for cid in ids:
        assert c.get_certificate(cid).certificate.record.holder in (world.holder, world.other_holder)
    assert c.get_series(world.series)["minted"] == 4
    # One refused transaction does not affect the others in a batch.
    chain = c.chain_id
    dup = keepsake.sign(keepsake.Mint(world.series, 2, world.other_holder), chain, [world.issuer])
    ok = keepsake.sign(keepsake.Mint(world.series, 5, world.holder), chain, [world.issuer])
    outcomes = c.send_many([dup, ok])
    assert [o.error_code for o in outcomes] == ["DuplicateCertificate", None]
    # The very same mint again is the same transaction: DuplicateTransaction.
    again = keepsake.sign(keepsake.Mint(world.series, 2, world.holder), chain, [world.issuer])
    assert c.submit_txs([again])[0].error_code == "DuplicateTransaction"
    world.certs.append(keepsake.certificate_id(chain, world.series, 5))


def test_a_certificate_fetched_and_verified_offline(world: World) -> None:
    c = world.client
    cert = c.fetch_certificate(world.certs[0])
    v = keepsake.verify_certificate(cert, world.node.genesis)
    assert v.record.series_name == "Nine-coloured Deer" and v.record.edition == 1
    assert v.record.holder == world.holder and v.record.issuer == world.issuer.public_key
    assert (v.signed_power, v.total_power) == (1, 1)
    assert keepsake.is_holder(v, "5f2c9a", "alice@example.com")
    # The same file, written and read back, verifies; a tampered copy does not.
    path = world.node.home / "cert-1.json"
    cert.save(path)
    assert keepsake.verify_certificate(keepsake.Certificate.load(path), world.node.genesis).certificate_id == v.certificate_id
    tampered = json.loads(path.read_text())
    tampered["record"]["holder"] = world.other_holder.hex()
    with pytest.raises(keepsake.VerifyError) as e:
        keepsake.verify_certificate(json.dumps(tampered), world.node.genesis)
    assert (e.value.code, e.value.step) == ("CertificateMismatch", "record")
    world.saved["first"] = cert


def test_a_transfer_is_refused_with_transfer_forbidden(world: World) -> None:
    c = world.client
    with pytest.raises(keepsake.RpcError) as e:
        c.transfer(world.issuer, world.certs[0], world.other_holder)
    assert (e.value.code, e.value.number) == ("TransferForbidden", 4001)
    # In a batch too.
    tx = keepsake.sign(keepsake.Transfer(world.certs[0], world.other_holder), c.chain_id, [world.issuer])
    [outcome] = c.submit_txs([tx])
    assert outcome.error_code == "TransferForbidden"


def test_a_revocation_is_proven_by_the_status_answer(world: World) -> None:
    c = world.client
    target = world.certs[1]
    active = c.verify_status(c.fetch_certificate(target), world.node.genesis)
    assert active.status == "active"
    c.revoke(world.issuer, target, "minted in error")
    st = c.verify_status(c.fetch_certificate(target), world.node.genesis)
    assert st.status == "revoked" and st.revocation is not None
    assert (st.revocation.by, st.revocation.reason) == ("issuer", "minted in error")
    resp = c.get_certificate(target)
    assert resp.revocation is not None and resp.revocation["by"] == "issuer"
    # A revoked certificate still verifies (it was minted); only the status says revoked.
    keepsake.verify_certificate(resp.certificate, world.node.genesis)
    with pytest.raises(keepsake.RpcError) as e:
        c.revoke(world.issuer, target, "again")
    assert e.value.code == "AlreadyRevoked"


def test_refresh_re_anchors_a_certificate_after_more_blocks(world: World) -> None:
    c = world.client
    old: keepsake.Certificate = world.saved["first"]
    old_height = old.checkpoint.header.height
    # Empty blocks come about every second: wait for two more.
    for block in c.blocks(timeout=15):
        if block.height >= old_height + 2:
            break
    refreshed = c.refresh_certificate(old, world.node.genesis)
    assert refreshed is not None and refreshed.previous is not None
    v = keepsake.verify_certificate(refreshed, world.node.genesis)
    assert v.previous_height == old_height and v.checkpoint_height > old_height
    assert refreshed.record == old.record
    # A refreshed file round-trips; a forged consistency proof is caught.
    text = refreshed.to_text()
    assert keepsake.verify_certificate(text, world.node.genesis).previous_height == old_height
    forged = keepsake.Certificate.from_text(text)
    from dataclasses import replace

    bad_link = replace(forged.previous, consistency=[bytes(32)] * max(1, len(forged.previous.consistency)))  # type: ignore[arg-type]
    with pytest.raises(keepsake.VerifyError) as e:
        keepsake.verify_certificate(replace(forged, previous=bad_link), world.node.genesis)
    assert e.value.code == "ConsistencyMismatch"
    # A node showing another history at the old height is refused.
    header = replace(old.checkpoint.header, state_root=bytes(32))
    rewritten = replace(old, checkpoint=replace(old.checkpoint, header=header))
    with pytest.raises(keepsake.VerifyError):
        c.refresh_certificate(rewritten, world.node.genesis)


def test_licences_set_withdraw_and_policy_bodies_12_13_14(world: World) -> None:
    c, gov = world.client, [world.governor]
    until = int(time.time() * 1000) + 365 * 24 * 3600 * 1000
    c.set_licence(gov, world.issuer.public_key, keepsake.Licence("ICP", "京ICP备-0001", until))
    info = c.get_issuer(world.issuer.public_key)
    assert info["licence"]["number"] == "京ICP备-0001" and info["licence"]["in_force"] is True
    c.set_licence_policy(gov, True)
    assert c.get_issuer(world.issuer.public_key)["licence_policy"]["required"] is True
    world.certs.append(c.mint(world.issuer, world.series, holder=world.holder))  # licensed: fine
    c.withdraw_licence(gov, world.issuer.public_key, "licence suspended by the authority")
    assert c.get_issuer(world.issuer.public_key)["may_issue"] is False
    with pytest.raises(keepsake.RpcError) as e:
        c.mint(world.issuer, world.series, holder=world.holder)
    assert (e.value.code, e.value.number) == ("LicenceWithdrawn", 4034)
    # Policy unchanged is refused; without the policy a withdrawn licence still stops minting (T34).
    with pytest.raises(keepsake.RpcError) as e:
        c.set_licence_policy(gov, True)
    assert e.value.code == "LicencePolicyUnchanged"
    c.set_licence_policy(gov, False)
    with pytest.raises(keepsake.RpcError) as e:
        c.mint(world.issuer, world.series, holder=world.holder)
    assert e.value.code == "LicenceWithdrawn"
    # Recording the licence again renews it and clears the withdrawal.
    c.set_licence(gov, world.issuer.public_key, keepsake.Licence("ICP", "京ICP备-0002", until))
    assert c.get_issuer(world.issuer.public_key)["may_issue"] is True
    world.certs.append(c.mint(world.issuer, world.series, holder=world.holder))


def test_a_series_with_a_recipe_and_a_synthesis_bodies_15_16(world: World) -> None:
    c = world.client
    terms = keepsake.SeriesTerms(recipes=[keepsake.Recipe([keepsake.RecipeInput(world.series, 2)])])
    relic = c.create_series(
        world.issuer,
        reviewer_key=world.reviewer,
        name="Relic",
        content=b"artwork:relic",
        max_supply=10,
        metadata_uri="https://museum.example/relic.json",
        terms=terms,
    )
    info = c.get_series(relic)
    assert info["recipes"] == [{"inputs": [{"series_id": world.series.hex(), "count": 2}]}]
    # Two holders' pieces cannot be combined (that would be a transfer).
    mixed = [world.certs[0], world.certs[3]]  # alice's edition 1, bob's edition 4
    with pytest.raises(keepsake.RpcError) as e:
        c.synthesize(world.issuer, relic, inputs=mixed, holder=world.holder)
    assert e.value.code == "SynthesisAcrossHolders"
    inputs = [world.certs[0], world.certs[2]]  # alice's editions 1 and 3
    out = c.synthesize(world.issuer, relic, inputs=inputs, holder=world.holder)
    v = keepsake.verify_certificate(c.fetch_certificate(out), world.node.genesis)
    assert v.recipe == 0 and v.record.synthesized_from == inputs and v.record.holder == world.holder
    burned = keepsake.verify_certificate(c.fetch_certificate(inputs[0]), world.node.genesis)
    st = c.verify_status(burned, world.node.genesis)
    assert st.status == "burned" and st.burned is not None and st.burned.into == out


def test_a_blind_box_created_minted_closed_and_revealed_bodies_15_17_18(world: World) -> None:
    c = world.client
    seed = os.urandom(32)
    chain = c.chain_id
    box = keepsake.BlindBoxTerms(
        variants=[
            keepsake.BoxVariant("gold", keepsake.content_hash(b"variant:gold"), 1),
            keepsake.BoxVariant("plain", keepsake.content_hash(b"variant:plain"), 4),
        ],
        seed_commitment=keepsake.seed_commitment(chain, seed),
    )
    series = c.create_series(
        world.issuer,
        reviewer_key=world.reviewer,
        name="Mystery",
        content=b"artwork:mystery-box",
        max_supply=5,
        metadata_uri="https://museum.example/mystery.json",
        terms=keepsake.SeriesTerms(blind_box=box),
    )
    ids = c.mint_batch(world.issuer, series, [(e, world.holder) for e in range(1, 5)])
    before = keepsake.verify_certificate(c.fetch_certificate(ids[0]), world.node.genesis)
    assert before.blind_box is not None and before.blind_box.reveal is None and before.record.variant is None
    c.close_blind_box(world.issuer, series)
    with pytest.raises(keepsake.RpcError) as e:
        c.mint(world.issuer, series, holder=world.holder, edition=5)
    assert (e.value.code, e.value.number) == ("BlindBoxClosed", 4047)
    closed = c.get_series(series)["blind_box"]["closed"]
    closed_root = c.get_log_root(closed["leaf_index"] + 1)
    assert c.reveal_entropy(series, seed) == closed_root
    with pytest.raises(ValueError):
        c.reveal_entropy(series, os.urandom(32))  # not the committed seed
    c.reveal_blind_box(world.issuer, series, seed)
    assert c.get_series(series)["blind_box"]["sale"] == "revealed"
    variants = []
    for cid in ids:
        v = keepsake.verify_certificate(c.fetch_certificate(cid), world.node.genesis)
        assert v.blind_box is not None and v.blind_box.reveal is not None and v.record.variant is not None
        variants.append(v.record.variant.name)
    assert variants.count("plain") >= 3 and set(variants) <= {"gold", "plain"}
    with pytest.raises(ValueError, match="already revealed"):
        c.reveal_blind_box(world.issuer, series, seed)


def test_malformed_calls_get_typed_errors(world: World) -> None:
    c = world.client
    with pytest.raises(keepsake.RpcError) as e:
        c.get_certificate(bytes(32))
    assert (e.value.code, e.value.number) == ("NotFound", 4404)
    with pytest.raises(keepsake.RpcError) as e:
        c.call("keepsake_getTxStatus", "00")
    assert e.value.number == -32602 and e.value.code == "InvalidParams"
    with pytest.raises(keepsake.RpcError) as e:
        c.call("keepsake_noSuchMethod")
    assert e.value.code == "MethodNotFound"
    with pytest.raises(ValueError):
        c.get_certificate("not hex")
    assert c.get_tx_status(bytes(32)).status == "unknown"
    with keepsake.Client("http://127.0.0.1:1") as dead:
        with pytest.raises(keepsake.NodeError):
            dead.status()


