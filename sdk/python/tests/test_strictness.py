"""What the verifier refuses, and where: mirrors web/tests/verify.test.mjs ("tampering",
"synthetic checkpoints", "validator-set changes") and the Rust tests it transcribes."""

from __future__ import annotations

import copy
import json

from typing import Any, Optional, Sequence

import pytest

import keepsake
from keepsake import merkle
from keepsake.block import Checkpoint, Commit, CommitSignature, Header, Validator, encode_vote_data

from keepsake.hashing import TAG_VOTE, domain_preimage, sha256
from keepsake.membership import ChangeRefusal, ScheduledSet, ValidatorSchedule, apply_change
from keepsake.serde import to_json
from keepsake.tx import ChangeValidators, LogEntryProof, LogLeaf, SignedTx, TxBody
from conftest import FIXTURES, load, read, tkey

GENESIS = FIXTURES / "genesis.json"
CHAIN = "keepsake-test"


def code_of(cert: Any, genesis: Any = GENESIS) -> tuple[str, Optional[str], str]:
    try:
        keepsake.verify_certificate(cert if isinstance(cert, (str, bytes)) else json.dumps(cert), genesis)
        return ("valid", None, "")
    except keepsake.VerifyError as e:
        return (e.code, e.step, e.message)


def test_a_chain_id_outside_the_rule_is_malformed_at_the_file_step() -> None:
    for chain_id, why in [("a" * 300, "300 bytes"), ("a" * 65, "65 bytes"), ("", "is empty"), ("Keepsake-Test", "outside")]:
        for where in ("certificate", "header"):
            c = load("valid.json")
            if where == "certificate":
                c["chain_id"] = chain_id
            else:
                c["checkpoint"]["header"]["chain_id"] = chain_id
            code, step, message = code_of(c)
            assert (code, step) == ("Malformed", "file"), (where, message)
            assert why in message
    c = load("valid.json")
    c["chain_id"] = "another-chain"
    assert code_of(c)[0] == "WrongChain"


@pytest.mark.parametrize(
    "field,value",
    [
        ("series_name", "jade2"),
        ("metadata_uri", "https://example.org/other.json"),
        ("max_supply", 9),
        ("time_ms", 1700000003001),
        ("mint_tx", "00" * 32),
        ("content_hash", "11" * 32),
    ],
)
def test_a_changed_record_field_fails_at_the_record_step(field: str, value: Any) -> None:
    c = load("valid.json")
    c["record"][field] = value
    code, step, message = code_of(c)
    assert (code, step) == ("CertificateMismatch", "record")
    assert f"record.{field}" in message


def test_commit_errors_in_the_rust_order() -> None:
    sigs = load("valid.json")["checkpoint"]["commit"]["signatures"]

    def height(c: Any) -> None:
        c["checkpoint"]["commit"]["height"] += 1

    def dup(c: Any) -> None:
        c["checkpoint"]["commit"]["signatures"][2] = sigs[0]

    def unknown(c: Any) -> None:
        c["checkpoint"]["commit"]["signatures"][0]["validator"] = c["record"]["issuer"]

    def empty(c: Any) -> None:
        c["checkpoint"]["commit"]["signatures"] = []

    def cut(c: Any) -> None:
        c["checkpoint"]["commit"]["signatures"] = sigs[:2]

    for expected, mutate in [
        ("CommitHeightMismatch", height),
        ("DuplicateCommitSignature", dup),
        ("UnknownValidator", unknown),
        ("InsufficientPower", empty),
        ("InsufficientPower", cut),
    ]:
        c = load("valid.json")
        mutate(c)
        code, step, _ = code_of(c)
        assert (code, step) == (expected, "checkpoint")


def test_the_file_unknown_duplicate_missing_fields_types_size() -> None:
    text = read("valid.json")
    malformed = [
        text.replace('"format"', '"price": 1,\n"format"'),
        text.replace('"edition": 2,', '"edition": 2, "edition": 2,'),
        text.replace('"series_name": "jade",', ""),
        text.replace('"edition": 2', '"edition": 2.0'),
        text.replace('"edition": 2', '"edition": 2e0'),
        text.replace('"edition": 2', '"edition": -2'),
        text.replace('"edition": 2', '"edition": 4294967298'),
        text.replace('"height": 3', '"height": 18446744073709551616'),
        text.replace('"edition": 2', '"edition": "2"'),
        text.replace('"edition": 2', '"edition": true'),
        text.replace('"edition": 2', '"edition": NaN'),
        text.replace('"series_name": "jade"', '"series_name": "\\ud800jade"'),
        text.replace('"record": {', '"record": {"extra": null,'),
        text.replace('"checkpoint": {', '"previous": {"consistency": []},\n"checkpoint": {'),
        text + "x",
        "\ufeff" + text,
        text.replace("keepsake-certificate/v1", "keepsake-certificate/v2"),
        text.replace('"leaf": "03', '"leaf": "3', 1),
        text.replace('"holder": "63', '"holder": "6'),
        text.replace('"holder": "63', '"holder": " 63'),
        "[" * 10000 + "]" * 10000,
        "",
        "null",
        b"\xff\xfe",
    ]
    for t in malformed:
        code, step, message = code_of(t) if isinstance(t, str) else _code_bytes(t)
        assert (code, step) == ("Malformed", "file"), (t[:60], message)
    assert keepsake.CERTIFICATE_FILE_MAX == 4 * 1024 * 1024
    size = len(text.encode())
    at_limit = text[:-2] + " " * (keepsake.CERTIFICATE_FILE_MAX - size) + text[-2:]
    assert len(at_limit.encode()) == keepsake.CERTIFICATE_FILE_MAX
    assert code_of(at_limit)[0] == "valid", "a file of exactly 4 MiB is read"
    big = text[:-2] + " " * (keepsake.CERTIFICATE_FILE_MAX - size + 1) + text[-2:]
    assert code_of(big)[:2] == ("TooLarge", "file")


def _code_bytes(data: bytes) -> tuple[str, Optional[str], str]:
    try:
        keepsake.verify_certificate(data, GENESIS)
        return ("valid", None, "")
    except keepsake.VerifyError as e:
        return (e.code, e.step, e.message)


def test_accepted_like_serde_0x_upper_case_previous_null_big_u64_arrays() -> None:
    c = load("valid.json")
    c["record"]["holder"] = "0x" + c["record"]["holder"].upper()
    c["previous"] = None
    assert code_of(c)[0] == "valid"
    text = read("valid.json").replace('"time_ms": 1700000003000', '"time_ms": 18446744073709551615')
    code, _, message = code_of(text)
    assert code == "CertificateMismatch" and "18446744073709551615" in message
    assert _code_bytes(read("valid.json").encode())[0] == "valid"
    # serde accepts a struct as the array of its fields, in order.
    c = load("valid.json")
    h = c["checkpoint"]["header"]
    c["checkpoint"]["header"] = [h[k] for k in h]
    assert code_of(c)[0] == "valid"


def test_a_bad_genesis_is_invalid_genesis() -> None:
    for mutate in [
        lambda g: g.__setitem__("governance_threshold", 4),
        lambda g: g["validators"][0].__setitem__("public_key", "01" + "00" * 31),
        lambda g: g.__setitem__("surprise", 1),
        lambda g: g.__setitem__("chain_id", "Bad Chain"),
        lambda g: g["validators"].append(g["validators"][0]),
        lambda g: g["params"].__setitem__("tx_bytes_max", 255),
    ]:
        g = load("genesis.json")
        mutate(g)
        code, step, _ = code_of(read("valid.json"), g)
        assert (code, step) == ("InvalidGenesis", "chain")
    assert code_of(read("valid.json"), "{not json")[0] == "InvalidGenesis"
    assert code_of(read("valid.json"), FIXTURES / "no-such-genesis.json")[0] == "InvalidGenesis"


# -- synthetic checkpoints signed with the test keys (validators are keys 100..103) ------------


def genesis_validators() -> list[Validator]:
    return keepsake.load_genesis(GENESIS).validators


def signed_checkpoint(
    leaves: Sequence[bytes],
    height: int,
    signers: Sequence[int] = (100, 101, 102, 103),
    validators: Optional[Sequence[Validator]] = None,
    chain: str = CHAIN,
    at: Optional[int] = None,
) -> tuple[dict[str, Any], dict[str, Any], list[bytes]]:
    """A checkpoint over ``leaves`` naming ``validators`` (default: genesis'), signed by test keys; the entry of leaf ``at``."""
    hashes = [merkle.leaf_hash(x) for x in leaves]
    vs = list(validators) if validators is not None else genesis_validators()
    header = Header(
        chain_id=chain,
        height=height,
        prev_hash=bytes([7]) * 32,
        time_ms=1700000000000 + height * 1000,
        proposer=vs[0].public_key,
        tx_count=0,
        tx_root=sha256(b""),
        log_size=len(leaves),
        log_root=merkle.root(hashes),
        validators_hash=keepsake.block.validators_hash(CHAIN, vs),
        state_root=bytes([9]) * 32,
    )
    block_hash = header.hash()
    msg = domain_preimage(TAG_VOTE, chain, encode_vote_data(height, 0, 1, block_hash))
    sigs = [CommitSignature(tkey(n).public_key, tkey(n).sign(msg)) for n in signers]
    cp = to_json(Checkpoint(header, Commit(height, 0, block_hash, sigs)))
    i = len(leaves) - 1 if at is None else at
    entry = to_json(LogEntryProof(i, leaves[i], merkle.inclusion_proof(i, hashes)))
    return cp, entry, hashes


def reanchored(
    mint_leaf: Optional[bytes] = None,
    series_leaf: Optional[bytes] = None,
    series_at: int = 0,
    mint_at: int = 1,
    height: int = 9,
) -> dict[str, Any]:
    """valid.json re-anchored to a synthetic log of 3 leaves."""
    c = load("valid.json")
    leaves = [b"\x01", b"\x02", b"\x03"]
    leaves[series_at] = series_leaf if series_leaf is not None else bytes.fromhex(c["series"]["leaf"])
    leaves[mint_at] = mint_leaf if mint_leaf is not None else bytes.fromhex(c["mint"]["leaf"])
    cp, _, hashes = signed_checkpoint(leaves, height)
    c["checkpoint"] = cp
    c["series"] = to_json(LogEntryProof(series_at, leaves[series_at], merkle.inclusion_proof(series_at, hashes)))
    c["mint"] = to_json(LogEntryProof(mint_at, leaves[mint_at], merkle.inclusion_proof(mint_at, hashes)))
    return c


def test_the_testkit_seeds_give_the_genesis_validators() -> None:
    vs = genesis_validators()
    for i in range(4):
        assert tkey(100 + i).public_key == vs[i].public_key
    assert tkey(1).public_hex == "bbe9753f42d082d0207b1aa38b15dbd9b916458615a6aa0dc7ecc04c105e408d"


def test_the_fixture_leaves_reanchored_to_a_new_signed_checkpoint_verify() -> None:
    v = keepsake.verify_certificate(json.dumps(reanchored()), GENESIS)
    assert (v.checkpoint_height, v.log_size) == (9, 3)


def test_leaf_decoding_runs_after_the_mint_proof_and_before_the_series_proof() -> None:
    mint = bytes.fromhex(load("valid.json")["mint"]["leaf"])
    overlong = b"\x83\x00" + mint[1:]  # height 3 as an over-long varint: not canonical
    assert code_of(reanchored(mint_leaf=overlong))[:2] == ("Malformed", "record")
    assert code_of(reanchored(mint_leaf=mint + b"\x00"))[0] == "Malformed"
    assert code_of(reanchored(mint_leaf=bytes(4161)))[0] == "TooLarge"
    c = reanchored(mint_leaf=overlong)
    c["series"]["proof"][0] = "00" * 32
    assert code_of(c)[:2] == ("Malformed", "record")
    c = reanchored()
    c["series"]["proof"][0] = "00" * 32
    assert code_of(c)[:2] == ("ProofMismatch", "inclusion")


def test_leaf_above_the_checkpoint_series_after_the_mint_swapped_leaves() -> None:
    code, _, message = code_of(reanchored(height=2))
    assert code == "CertificateMismatch" and "mint" in message
    code, _, message = code_of(reanchored(series_at=2, mint_at=1))
    assert code == "CertificateMismatch" and "series.leaf_index" in message
    v = load("valid.json")
    code, _, message = code_of(
        reanchored(mint_leaf=bytes.fromhex(v["series"]["leaf"]), series_leaf=bytes.fromhex(v["mint"]["leaf"]))
    )
    assert code == "CertificateMismatch" and "mint.leaf" in message


def test_a_refreshed_certificate_whose_older_checkpoint_is_not_older_or_lacks_the_mint() -> None:
    refreshed = load("refreshed.json")
    c = copy.deepcopy(refreshed)
    c["previous"]["checkpoint"] = refreshed["checkpoint"]
    c["previous"]["consistency"] = []
    assert code_of(c)[:2] == ("CertificateMismatch", "consistency")
    leaves = [bytes([i]) for i in range(1, 8)]
    old, _, _ = signed_checkpoint(leaves[:3], 2)
    new, _, hashes = signed_checkpoint(leaves, 6)
    d = load("valid.json")
    d["checkpoint"] = new
    d["previous"] = {"checkpoint": old, "consistency": [h.hex() for h in merkle.consistency_proof(3, hashes)]}
    code, _, message = code_of(d)
    assert code == "CertificateMismatch" and "previous.checkpoint" in message
    weak, _, _ = signed_checkpoint(leaves[:5], 2, signers=(100, 101))
    d["previous"] = {"checkpoint": weak, "consistency": [h.hex() for h in merkle.consistency_proof(5, hashes)]}
    assert code_of(d)[:2] == ("InsufficientPower", "consistency")


# -- validator-set changes ---------------------------------------------------------------------


def leaf_of(body: TxBody, height: int) -> bytes:
    return LogLeaf(height, 1700000000000 + height * 1000, SignedTx(body, [])).encode()


def add_fifth(cp_height: int = 4, signers: Sequence[int] = (100, 101, 102, 103)) -> dict[str, Any]:
    body = ChangeValidators(keepsake.AddValidator(Validator(tkey(104).public_key, 1, "org-4")), 3)
    cp, entry, _ = signed_checkpoint([b"\x01", leaf_of(body, 4)], cp_height, signers)
    return {"change": entry, "checkpoint": cp}


def with_transitions(transitions: list[dict[str, Any]]) -> tuple[str, Optional[str], str]:
    c = load("valid.json")
    c["transitions"] = transitions
    return code_of(c)


def test_every_check_of_follow_in_the_rust_order() -> None:
    t0 = add_fifth()
    # Valid transition, but it takes effect at 6, after the checkpoint at 5.
    code, step, message = with_transitions([t0])
    assert (code, step) == ("InvalidTransition", "checkpoint")
    assert message.endswith("it takes effect at height 6, after the checkpoint at height 5")
    # Signed by too few of the set before it.
    code, _, message = with_transitions([add_fifth(signers=(100, 101))])
    assert code == "InvalidTransition" and "checkpoint at height 4: commit carries voting power 2" in message
    # A checkpoint after the change took effect.
    code, _, message = with_transitions([add_fifth(cp_height=6)])
    assert code == "InvalidTransition" and "after the change took effect" in message
    # Not a change.
    body = keepsake.Revoke(bytes(32), "x")
    cp, entry, _ = signed_checkpoint([leaf_of(body, 4)], 4)
    code, _, message = with_transitions([{"change": entry, "checkpoint": cp}])
    assert code == "InvalidTransition" and "not a validator-set change" in message
    # Another chain.
    cp, entry, _ = signed_checkpoint([leaf_of(body, 4)], 4, chain="keepsake-other")
    assert with_transitions([{"change": entry, "checkpoint": cp}])[0] == "WrongChain"
    # Too many, counted after the certificate's chain check.
    many = [t0] * (keepsake.membership.TRANSITIONS_MAX + 1)
    assert with_transitions(many)[:2] == ("TooLarge", "checkpoint")


def test_validator_set_apply_does_what_it_says_and_refuses_as_membership_rs() -> None:
    s = genesis_validators()
    added = apply_change(s, keepsake.AddValidator(Validator(tkey(50).public_key, 1, "e")))
    assert len(added) == 5 and added[4].public_key == tkey(50).public_key and len(s) == 4
    removed = apply_change(s, keepsake.RemoveValidator(s[1].public_key))
    assert [v.name for v in removed] == ["org-0", "org-2", "org-3"]
    assert apply_change(s, keepsake.SetValidatorPower(s[0].public_key, 2))[0].power == 2
    rotated = apply_change(s, keepsake.RotateValidatorKey(s[2].public_key, tkey(60).public_key))
    assert rotated[2].public_key == tkey(60).public_key and rotated[2].name == "org-2"
    stranger = tkey(99).public_key
    cases: list[tuple[Any, str]] = [
        (keepsake.RemoveValidator(stranger), "NotAValidator"),
        (keepsake.SetValidatorPower(stranger, 3), "NotAValidator"),
        (keepsake.RotateValidatorKey(stranger, tkey(70).public_key), "NotAValidator"),
        (keepsake.AddValidator(s[0]), "AlreadyAValidator"),
        (keepsake.RotateValidatorKey(s[0].public_key, s[1].public_key), "AlreadyAValidator"),
        (keepsake.AddValidator(Validator(tkey(70).public_key, 0, "x")), "Invalid"),
        (keepsake.SetValidatorPower(s[0].public_key, 1), "Invalid"),
        (keepsake.SetValidatorPower(s[0].public_key, 0), "Invalid"),
        (keepsake.SetValidatorPower(s[0].public_key, 1 << 60), "Invalid"),
        (keepsake.AddValidator(Validator(bytes(32), 1, "x")), "Invalid"),
        (keepsake.AddValidator(Validator(bytes([1]) + bytes(31), 1, "x")), "Invalid"),
        (keepsake.AddValidator(Validator(tkey(70).public_key, 2, "x")), "Unsafe"),
    ]
    for change, kind in cases:
        with pytest.raises(ChangeRefusal) as e:
            apply_change(s, change)
        assert e.value.kind == kind, change


def test_the_schedule_answers_by_height() -> None:
    a, b = genesis_validators(), genesis_validators()[:3]
    sched = ValidatorSchedule([ScheduledSet(1, a), ScheduledSet(6, b)])
    assert sched.at(0) == a and sched.at(5) == a and sched.at(6) == b and sched.at(100) == b


def test_status_answers_revoker_shape_and_transitions() -> None:
    cert = keepsake.verify_certificate(read("set-revoked.json"), GENESIS)
    st = load("set-revoked-status.json")
    st["transitions"] = []
    with pytest.raises(keepsake.VerifyError) as e:
        keepsake.verify_status(json.dumps(st), GENESIS, cert)
    assert e.value.code == "ValidatorSetMismatch"
    # The issuer together with a governor: refused (the issuer revokes alone).
    revoked = load("set-revoked.json")
    body = keepsake.Revoke(bytes.fromhex(revoked["certificate_id"]), "both")
    tx = keepsake.sign(body, CHAIN, [tkey(10), tkey(1)])
    leaves = [bytes([i]) for i in range(revoked["mint"]["leaf_index"] + 1)]
    leaves.append(LogLeaf(12, 1700000012000, tx).encode())
    cp, entry, _ = signed_checkpoint(leaves, 13)
    answer = {"certificate_id": revoked["certificate_id"], "checkpoint": cp, "revocation": entry}
    with pytest.raises(keepsake.VerifyError) as e:
        keepsake.verify_status(json.dumps(answer), GENESIS, cert)
    assert e.value.code == "CertificateMismatch" and "the issuer revokes alone" in e.value.message
    # Signers without the issuer: governance.
    leaves[-1] = LogLeaf(12, 1700000012000, keepsake.sign(body, CHAIN, [tkey(10)])).encode()
    cp, entry, _ = signed_checkpoint(leaves, 13)
    ok = keepsake.verify_status({"certificate_id": revoked["certificate_id"], "checkpoint": cp, "revocation": entry}, GENESIS, cert)
    assert ok.revocation is not None and ok.revocation.by == "governance"
    # A stale answer: its log does not contain the mint.
    cp, _, _ = signed_checkpoint(leaves[:2], 13)
    with pytest.raises(keepsake.VerifyError) as e:
        keepsake.verify_status({"certificate_id": revoked["certificate_id"], "checkpoint": cp, "revocation": None}, GENESIS, cert)
    assert e.value.code == "CertificateMismatch" and e.value.step == "checkpoint"


def test_a_plain_series_carries_no_variant_or_reveal_and_recipes_must_exist() -> None:
    plain = load("life-kept.json")
    box = load("life-blind-box.json")
    code, _, message = code_of({**plain, "reveal": box["reveal"]})
    assert message.startswith("certificate field reveal does not match")
    code, _, message = code_of({**plain, "record": {**plain["record"], "variant": box["record"]["variant"]}})
    assert message.startswith("certificate field record.variant does not match")
    code, _, message = code_of({**plain, "record": {**plain["record"], "synthesized_from": [plain["certificate_id"]]}})
    assert message.startswith("certificate field record.synthesized_from does not match")


def test_is_holder_compares_locally() -> None:
    v = keepsake.verify_certificate(read("life-blind-box.json"), GENESIS)
    assert keepsake.is_holder(v, "c0ffee", "alice@example.com")
    assert not keepsake.is_holder(v, "c0ffee", "bob@example.com")
    assert not keepsake.is_holder(v, "c0ffef", "alice@example.com")


