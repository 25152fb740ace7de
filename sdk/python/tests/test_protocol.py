"""The byte-level vectors of docs/protocol.md, tests/fixtures/ed25519/vectors.json, RFC 6962 /
RFC 9162 proofs, every transaction body's encoding, and key files (mirrors web/tests/*.mjs)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

import keepsake
from keepsake import ed25519, merkle
from keepsake.block import Header, encode_vote_data, validators_hash
from keepsake.encoding import Reader, pstr, varint
from keepsake.hashing import TAG_HOLDER, TAG_TX, domain_preimage, sha256
from keepsake.tx import LogLeaf, SignedTx, decode_log_leaf, decode_tx_body
from conftest import ED25519_VECTORS, FIXTURES, load, read, tkey

CHAIN = "keepsake-test"
ISSUER = bytes.fromhex("bbe9753f42d082d0207b1aa38b15dbd9b916458615a6aa0dc7ecc04c105e408d")
SERIES = bytes.fromhex("7c9c85e2db9f4cbe3d8c4bf982c112e1691193f31e570f2d4e77d7a2bce08101")
HOLDER = bytes.fromhex("4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38")
MINT_SIG = bytes.fromhex(
    "85daa662503678e4a3e8c0f490a0fdcf3163601a5b1d91b56d15e094f823d922"
    "2ced6da71be62a8b14af0ce0b1782b87eac24a9a2d45c72bbc190e47176f410e"
)


def test_varints_of_section_1() -> None:
    for n, hex_ in [
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (4096, "8020"),
        (10000, "904e"),
        (2**32 - 1, "ffffffff0f"),
        (1_700_000_000_000, "80d095ffbc31"),
        (0, "00"),
        (2**64 - 1, "ffffffffffffffffff01"),
    ]:
        assert varint(n).hex() == hex_
        assert Reader(varint(n)).u64() == n
    with pytest.raises(ValueError):
        varint(2**64)
    for bad in ["8000", "80", "ffffffffffffffffff02", "ffffffffffffffffffff01"]:
        with pytest.raises(keepsake.VerifyError) as e:
            Reader(bytes.fromhex(bad)).u64()
        assert e.value.code == "Malformed"
    with pytest.raises(keepsake.VerifyError):
        Reader(bytes.fromhex("8080808010")).u32()  # 2^32: out of range for u32


def test_holder_id_of_section_2() -> None:
    pre = domain_preimage(TAG_HOLDER, "", pstr("5f2c9a") + pstr("alice@example.com"))
    assert pre.hex() == "126b65657073616b652f686f6c6465722f7631000635663263396111616c696365406578616d706c652e636f6d"
    assert keepsake.holder_id("5f2c9a", "alice@example.com") == HOLDER


def test_series_and_certificate_ids_of_section_4_4() -> None:
    assert keepsake.series_id(CHAIN, ISSUER, "apsaras") == SERIES
    assert keepsake.certificate_id(CHAIN, SERIES, 1).hex() == "6c691de34a32ac7c42b60092d73d12d05279a4180c0e1fdcce04efac3c2d3cf9"
    cert = load("valid.json")
    assert keepsake.certificate_id(CHAIN, bytes.fromhex(cert["record"]["series_id"]), 2).hex() == cert["certificate_id"]


def test_mint_body_tx_id_and_signature_of_section_4_2_signed_locally() -> None:
    issuer = tkey(1)
    assert issuer.public_key == ISSUER
    body = keepsake.Mint(SERIES, 1, HOLDER)
    assert body.encode().hex() == "05" + SERIES.hex() + "01" + HOLDER.hex() and len(body.encode()) == 66
    assert body.id(CHAIN).hex() == "1ff77002ed2061c7cf7c893efb486d2b36a95582c3b27eeb4007d7aa20a421f7"
    msg = domain_preimage(TAG_TX, CHAIN, body.encode())
    assert msg.hex() == "0e6b65657073616b652f74782f7631" + "0d6b65657073616b652d74657374" + body.encode().hex()
    tx = keepsake.sign(body, CHAIN, [issuer])
    assert tx.signatures[0].signature == MINT_SIG  # RFC 8032 deterministic: ed25519-dalek's bytes
    assert tx.encode() == body.encode() + b"\x01" + ISSUER + MINT_SIG
    assert tx.to_json() == {
        "body": {"mint": {"series_id": SERIES.hex(), "edition": 1, "holder": HOLDER.hex()}},
        "signatures": [{"signer": ISSUER.hex(), "signature": MINT_SIG.hex()}],
    }
    assert SignedTx.from_json(tx.to_json()) == tx
    tx.check_signatures(CHAIN)
    with pytest.raises(keepsake.VerifyError) as e:
        tx.check_signatures("keepsake-other")
    assert e.value.code == "BadSignature"
    leaf = LogLeaf(3, 1700000102000, tx).encode()
    assert leaf[:7].hex() == "03f0ec9bffbc31"
    assert merkle.leaf_hash(leaf).hex() == "04fdc14207a198434f10a81c4ae93600dd58cb8d8dff4c5a8b295ba71d38c63e"
    decoded = decode_log_leaf(leaf, 4160)
    assert decoded.tx.body == body and decoded.encode() == leaf and decoded.tx.body_bytes == body.encode()


def test_header_block_hash_and_precommit_of_sections_4_5_and_4_6() -> None:
    x = bytes.fromhex
    header = Header(
        chain_id=CHAIN,
        height=3,
        prev_hash=x("9b837f504254104bd9a54a071fa63d84e6db766cf0d6d3b64ea1c28f411486be"),
        time_ms=1700000102000,
        proposer=x("21047a2f7d9ddc43c3d29af38c0bdedc180099906139c8c56fc0519fdac6a534"),
        tx_count=2,
        tx_root=x("88afdaf75f6cd907b3802e26ef3005d7c4376c7c810af4e54a7fd7ce2f12963f"),
        log_size=5,
        log_root=x("16f8c857d1dc95337b8efd2e0091562b61ddaef116b4631dd3afb18c18fca3bb"),
        validators_hash=x("1437c0e03646d9ad2bfa43b2ccb3c32539fa798c0d63b8c33d660ab1c0df64ca"),
        state_root=x("43fec5c63b32bcb96c72e8df6eec864056efb45cb0133542158dc468865fb46d"),
    )
    assert len(header.encode()) == 215
    h = header.hash()
    assert h.hex() == "19bb7e9c13935fdcf998e5e3faffca0c9e58a718a2bd6f8c8f0e7c74b62d9f96"
    assert encode_vote_data(3, 1, 1, h).hex() == "03010101" + h.hex()
    assert encode_vote_data(3, 0, 0, None).hex() == "03000000"
    # §5.3 tx root: two leaves of 32-byte ids
    ids = [x("1ff77002ed2061c7cf7c893efb486d2b36a95582c3b27eeb4007d7aa20a421f7")]
    assert merkle.root([merkle.leaf_hash(i) for i in ids]) == merkle.leaf_hash(ids[0])


def test_validators_and_genesis_hash_of_sections_4_7_and_4_8() -> None:
    g = keepsake.load_genesis(FIXTURES / "genesis.json")
    assert validators_hash(CHAIN, g.validators).hex() == "1437c0e03646d9ad2bfa43b2ccb3c32539fa798c0d63b8c33d660ab1c0df64ca"
    assert len(g.encode()) == 281
    assert g.hash().hex() == "ea633fbd89031a85def6edc2ef551f5833a87e7b5cee18e71338d6265e6a799c"
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# -- every transaction body ------------------------------------------------------------------------


def test_change_validators_example_of_section_4_1() -> None:
    body = keepsake.ChangeValidators(keepsake.AddValidator(keepsake.Validator(tkey(104).public_key, 1, "org-4")), 3)
    assert body.encode().hex() == "080001582658eb45dc613f0f085be4a97bf68a0bfbf427e29acb59029e4c99e1bc9b01056f72672d3403"
    assert body.body_json() == {
        "change_validators": {
            "change": {"add": {"validator": {"public_key": tkey(104).public_hex, "power": 1, "name": "org-4"}}},
            "nonce": 3,
        }
    }


def _bodies() -> list[tuple[keepsake.TxBody, str]]:
    k104, k120 = tkey(104).public_key, tkey(120).public_key
    aa = bytes([0xAA]) * 32
    b5 = bytes([5]) * 32
    approval = keepsake.ReviewApproval(k120, bytes([3]) * 64)
    terms = keepsake.SeriesTerms(
        recipes=[keepsake.Recipe([keepsake.RecipeInput(b5, 2)])],
        blind_box=keepsake.BlindBoxTerms([keepsake.BoxVariant("gold", bytes([6]) * 32, 1)], bytes([7]) * 32),
    )
    return [
        (keepsake.RegisterIssuer(k104, "Museum", 1), f"00{k104.hex()}064d757365756d01"),
        (keepsake.SetIssuerStatus(k104, "suspended", 2), f"01{k104.hex()}0102"),
        (keepsake.RegisterReviewer(k104, "R", 3), f"02{k104.hex()}015203"),
        (keepsake.RemoveReviewer(k104, 4), f"03{k104.hex()}04"),
        (
            keepsake.CreateSeries(k104, "s", b5, 300, "u", approval),
            f"04{k104.hex()}0173{b5.hex()}ac020175{k120.hex()}{'03' * 64}",
        ),
        (keepsake.Mint(b5, 7, aa), f"05{b5.hex()}07{aa.hex()}"),
        (keepsake.Revoke(b5, "why"), f"06{b5.hex()}03776879"),
        (keepsake.Transfer(b5, aa), f"07{b5.hex()}{aa.hex()}"),
        (keepsake.ChangeValidators(keepsake.RemoveValidator(k104), 3), f"0801{k104.hex()}03"),
        (keepsake.ChangeValidators(keepsake.SetValidatorPower(k104, 300), 3), f"0802{k104.hex()}ac0203"),
        (keepsake.ChangeValidators(keepsake.RotateValidatorKey(k104, k120), 3), f"0803{k104.hex()}{k120.hex()}03"),
        (keepsake.SetGovernance([k104, k120], 2, 6), f"0902{k104.hex()}{k120.hex()}0206"),
        (keepsake.RegisterObserver(k120, "regulator", 7), f"0a{k120.hex()}09726567756c61746f7207"),
        (keepsake.RemoveObserver(k120, 8), f"0b{k120.hex()}08"),
        (keepsake.SetIssuerLicence(aa, keepsake.Licence("ICP", "A-1", 300), 7), f"0c{aa.hex()}03494350" + "03412d31ac0207"),
        (keepsake.WithdrawIssuerLicence(aa, "x", 1), f"0d{aa.hex()}017801"),
        (keepsake.SetLicencePolicy(True, 128), "0e018001"),
        (
            keepsake.CreateSeriesWithTerms(k104, "s", b5, 1, "u", terms, approval),
            f"0f{k104.hex()}0173{b5.hex()}010175"
            + f"0101{b5.hex()}02"
            + f"010104676f6c64{'06' * 32}01{'07' * 32}"
            + f"{k120.hex()}{'03' * 64}",
        ),
        (keepsake.Synthesize(b5, 0, [aa, b5], 3, aa), f"10{b5.hex()}0002{aa.hex()}{b5.hex()}03{aa.hex()}"),
        (keepsake.CloseBlindBox(b5), f"11{b5.hex()}"),
        (keepsake.RevealBlindBox(b5, aa, bytes(32)), f"12{b5.hex()}{aa.hex()}{'00' * 32}"),
    ]


@pytest.mark.parametrize("body,hex_", _bodies(), ids=lambda v: getattr(v, "KIND", "bytes"))
def test_every_body_encodes_decodes_and_round_trips_its_json(body: keepsake.TxBody, hex_: str) -> None:
    assert body.encode().hex() == hex_
    assert decode_tx_body(bytes.fromhex(hex_)) == body
    leaf = LogLeaf(4, 1700000004000, SignedTx(body, [])).encode()
    assert decode_log_leaf(leaf, 1 << 20).tx.body == body
    tx = keepsake.sign(body, CHAIN, [tkey(1)])
    assert SignedTx.from_json(json.loads(json.dumps(tx.to_json()))) == tx


def test_all_nineteen_bodies_are_covered() -> None:
    assert sorted({type(b).INDEX for b, _ in _bodies()}) == list(range(19))


def test_bodies_logged_by_the_golden_chain_re_encode_to_their_bytes() -> None:
    seen = set()
    for file, entry in [
        ("life-synthesized.json", "mint"),
        ("life-synthesized.json", "series"),
        ("life-blind-box.json", "series"),
        ("life-blind-box.json", "reveal"),
        ("life-burned-status.json", "burn"),
        ("set-after-removal.json", "mint"),
        ("revoked-status.json", "revocation"),
    ]:
        raw = bytes.fromhex(load(file)[entry]["leaf"])
        leaf = decode_log_leaf(raw, 1 << 20)
        seen.add(leaf.tx.body.kind)
        assert leaf.tx.body.encode() == leaf.tx.body_bytes and leaf.encode() == raw
    for t in load("set-after-removal.json")["transitions"]:
        raw = bytes.fromhex(t["change"]["leaf"])
        assert decode_log_leaf(raw, 4160).encode() == raw
    assert {"create_series_with_terms", "reveal_blind_box", "synthesize", "revoke", "mint"} <= seen


def test_strict_decoding_refuses_non_canonical_bytes() -> None:
    k104, k120 = tkey(104).public_key.hex(), tkey(120).public_key.hex()
    for hex_ in [
        f"0804{k104}03",  # ValidatorChange variant 4
        "1300",  # TxBody variant 19
        f"0902{k104}0206",  # two governors announced, one given
        f"0802{k104}810003",  # power 1 as a two-byte varint
        f"0a{k120}01ff07",  # observer name not UTF-8
        "0e0200",  # a bool is 0 or 1
        "0f" + "00" * 32 + "00" + "00" * 32 + "01" + "00" + "00" + "02",  # Option tag 2
    ]:
        leaf = bytes([4]) + varint(1700000004000) + bytes.fromhex(hex_) + b"\x00"
        with pytest.raises(keepsake.VerifyError) as e:
            decode_log_leaf(leaf, 4160)
        assert e.value.code == "Malformed", hex_
    with pytest.raises(keepsake.VerifyError) as e:
        decode_log_leaf(bytes(4161), 4160)
    assert e.value.code == "TooLarge"
    # A huge announced length is refused before anything is allocated.
    with pytest.raises(keepsake.VerifyError):
        decode_log_leaf(b"\x01\x01\x09" + varint(2**60) + b"\x00", 4160)


def test_review_v2_is_over_subject_and_terms() -> None:
    s = decode_log_leaf(bytes.fromhex(load("life-blind-box.json")["series"]["leaf"]), 1 << 20).tx.body
    assert isinstance(s, keepsake.CreateSeriesWithTerms)
    ed25519.verify(s.approval.reviewer, keepsake.review_message(CHAIN, s.subject, s.terms), s.approval.signature)
    with pytest.raises(keepsake.VerifyError):
        ed25519.verify(s.approval.reviewer, keepsake.review_message(CHAIN, s.subject, None), s.approval.signature)
    # Signing locally gives a v1 approval for a plain subject and a v2 one with terms.
    subject = keepsake.ReviewSubject(ISSUER, "apsaras", sha256(b"artwork:apsaras"), 300, "https://example.org/apsaras.json")
    a1 = subject.approve(CHAIN, tkey(2))
    ed25519.verify(tkey(2).public_key, keepsake.review_message(CHAIN, subject), a1.signature)
    assert isinstance(subject.into_body(a1), keepsake.CreateSeries)
    assert isinstance(subject.into_body(a1, keepsake.SeriesTerms()), keepsake.CreateSeriesWithTerms)


def test_the_draw_is_rusts_pinned_draw() -> None:
    b = lambda x: bytes([x]) * 32  # noqa: E731
    deck = keepsake.draw_variants("c", b(1), b(2), b(3), [2, 3, 5])
    assert deck == [1, 0, 0, 1, 2, 2, 1, 2, 2, 2]
    other = keepsake.draw_variants("d", b(1), b(2), b(3), [2, 3, 5])
    assert other is not None and sorted(other) == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2] and other != deck
    assert keepsake.draw_variants("c", b(1), b(2), b(3), [10000, 1]) is None


def test_the_fixture_box_draw() -> None:
    c = load("life-blind-box.json")
    reveal = decode_log_leaf(bytes.fromhex(c["reveal"]["leaf"]), 1 << 20).tx.body
    series = decode_log_leaf(bytes.fromhex(c["series"]["leaf"]), 1 << 20).tx.body
    assert isinstance(reveal, keepsake.RevealBlindBox) and isinstance(series, keepsake.CreateSeriesWithTerms)
    box = series.terms.blind_box
    assert box is not None and keepsake.seed_commitment(CHAIN, reveal.seed) == box.seed_commitment
    deck = keepsake.draw_variants(CHAIN, reveal.series_id, reveal.seed, reveal.entropy, [v.count for v in box.variants])
    assert deck is not None and c["record"]["variant"]["index"] == deck[c["record"]["edition"] - 1]


# -- RFC 9162 -----------------------------------------------------------------------------------------

RFC6962_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_rfc6962_reference_roots() -> None:
    hashes = [merkle.leaf_hash(bytes.fromhex(x)) for x in RFC6962_LEAVES]
    for n in range(1, 9):
        assert merkle.root(hashes[:n]).hex() == RFC6962_ROOTS[n - 1]


def _fails(f: Any, *args: Any) -> bool:
    try:
        f(*args)
        return False
    except keepsake.VerifyError as e:
        assert e.code == "ProofMismatch"
        return True


def test_every_inclusion_and_consistency_proof_up_to_17_leaves() -> None:
    hashes = [merkle.leaf_hash(f"leaf-{i}".encode()) for i in range(17)]
    roots = [merkle.root(hashes[:n]) for n in range(18)]
    for n in range(1, 18):
        for i in range(n):
            p = merkle.inclusion_proof(i, hashes[:n])
            merkle.verify_inclusion(hashes[i], i, n, p, roots[n])
            assert _fails(merkle.verify_inclusion, hashes[i], i, n, p, roots[n - 1])
            assert _fails(merkle.verify_inclusion, hashes[i], n, n, p, roots[n])
            if p:
                bad = p[:-1] + [bytes([p[-1][0] ^ 1]) + p[-1][1:]]
                assert _fails(merkle.verify_inclusion, hashes[i], i, n, bad, roots[n])
                assert _fails(merkle.verify_inclusion, hashes[i], i, n, p[1:], roots[n])
            assert _fails(merkle.verify_inclusion, hashes[i], i, n, p + [roots[0]], roots[n])
        for m in range(n + 1):
            p = merkle.consistency_proof(m, hashes[:n])
            merkle.verify_consistency(m, n, roots[m], roots[n], p)
            if p:
                bad = [bytes([p[0][0] ^ 1]) + p[0][1:]] + p[1:]
                assert _fails(merkle.verify_consistency, m, n, roots[m], roots[n], bad)
                assert _fails(merkle.verify_consistency, m, n, roots[m], roots[n], p[:-1])
            if 0 < m < n:
                assert _fails(merkle.verify_consistency, m, n, roots[m], roots[n - 1], p)
    assert _fails(merkle.verify_consistency, 3, 2, roots[3], roots[2], [])
    assert _fails(merkle.verify_inclusion, hashes[0], 0, 1, [hashes[0]] * 67, roots[1])


# -- Ed25519 (ZIP-215) ---------------------------------------------------------------------------------

VECTORS = json.loads(ED25519_VECTORS.read_text())


def test_the_vector_file_has_its_schema_and_every_category() -> None:
    names = set()
    for v in VECTORS["vectors"]:
        assert sorted(v) == ["message", "name", "public_key", "signature", "source", "zip215"]
        assert v["name"] not in names
        names.add(v["name"])
    count = lambda prefix: sum(1 for v in VECTORS["vectors"] if v["name"].startswith(prefix))  # noqa: E731
    assert (count("speccheck-"), count("small-order-"), count("rfc8032-test")) == (12, 196, 5)
    spec = "".join("V" if v["zip215"] else "X" for v in VECTORS["vectors"] if v["name"].startswith("speccheck-"))
    assert spec == "VVVVVVXXXVVV"


@pytest.mark.parametrize("fast", [True, False], ids=["openssl-first", "pure-int"])
def test_every_vector_gets_its_zip215_verdict(fast: bool) -> None:
    ed25519.set_fast_path(fast)
    try:
        wrong = []
        for v in VECTORS["vectors"]:
            key, msg, sig = (bytes.fromhex(v[k]) for k in ("public_key", "message", "signature"))
            try:
                ed25519.verify(key, msg, sig)
                got = None
            except keepsake.VerifyError as e:
                got = e.code
            want = None if v["zip215"] else ("BadSignature" if ed25519.decompress(key) else "BadPublicKey")
            if got != want:
                wrong.append((v["name"], got, want))
            assert ed25519.verify_zip215(key, msg, sig) == want
        assert wrong == []
    finally:
        ed25519.set_fast_path(True)


def test_small_order_keys_never_pass_is_valid_point() -> None:
    for v in VECTORS["vectors"]:
        if v["name"].startswith("small-order-"):
            assert not ed25519.is_valid_point(bytes.fromhex(v["public_key"]))
    named = {v["name"]: v for v in VECTORS["vectors"]}
    assert ed25519.is_valid_point(bytes.fromhex(named["honest"]["public_key"]))
    assert ed25519.is_valid_point(bytes.fromhex(named["mixed-order-key"]["public_key"]))


def test_rfc8032_test_1_and_the_zip215_rules() -> None:
    key = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    ed25519.verify(key, b"", sig)
    assert ed25519.verify_zip215(key, b"\x00", sig) == "BadSignature"
    s = int.from_bytes(sig[32:], "little") + ed25519.L
    assert ed25519.verify_zip215(key, b"", sig[:32] + s.to_bytes(32, "little")) == "BadSignature"
    not_on_curve = bytes([2]) + bytes(31)
    assert ed25519.verify_zip215(not_on_curve, b"", bytes(64)) == "BadPublicKey"
    assert ed25519.verify_zip215(key, b"", not_on_curve + sig[32:]) == "BadSignature"
    identity = bytes([1]) + bytes(31)
    assert not ed25519.is_valid_point(identity)
    ed25519.verify(identity, b"", identity + bytes(32))
    ed25519.verify(identity, b"\x01\x02\x03", identity + bytes(32))
    flipped = sig[:31] + bytes([sig[31] ^ 0x80]) + sig[32:]
    assert ed25519.verify_zip215(key, b"", flipped) == "BadSignature"
    with pytest.raises(keepsake.VerifyError):
        ed25519.verify(key, b"", sig[:63])


# -- key files ------------------------------------------------------------------------------------------


def test_key_files_round_trip_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.json"
    key = keepsake.Keypair.generate()
    key.save(path)
    assert keepsake.Keypair.load(path).public_key == key.public_key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {"public_key", "secret_key"}
    with pytest.raises(keepsake.KeyFileError, match="already exists"):
        key.save(path)
    text = path.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(text.replace(key.public_hex, keepsake.Keypair.generate().public_hex))
    with pytest.raises(keepsake.KeyFileError, match="does not match"):
        keepsake.Keypair.load(bad)
    for content in ["{", "[]", '{"public_key": "00", "secret_key": "00"}', text[:-1] + ', "x": 1}', "x" * 5000]:
        bad.write_text(content)
        with pytest.raises(keepsake.KeyFileError):
            keepsake.Keypair.load(bad)
    with pytest.raises(keepsake.KeyFileError):
        keepsake.Keypair.load(tmp_path / "missing.json")


def test_a_dev_style_key_file_reads(tmp_path: Path) -> None:
    # keepsake dev writes serde_json's pretty print of {public_key, secret_key}.
    seed = bytes(range(32))
    k = keepsake.Keypair(seed)
    p = tmp_path / "issuer.json"
    p.write_text(json.dumps({"public_key": k.public_hex, "secret_key": seed.hex()}, indent=2))
    assert keepsake.read_key_file(p).seed == seed


def test_rpc_error_objects() -> None:
    e = keepsake.RpcError.from_object(
        {"code": 4001, "message": "transfers are forbidden", "data": {"code": "TransferForbidden"}}
    )
    assert (e.code, e.number) == ("TransferForbidden", 4001)
    assert keepsake.RpcError.from_object({"code": -32602, "message": "bad hex", "data": "x"}).code == "InvalidParams"
    assert keepsake.RpcError.from_object({"code": 4404, "message": "no"}).code == "NotFound"
    assert keepsake.RpcError.from_object("garbage").code == "Internal"
    assert keepsake.ERROR_CODES["EntropyMismatch"] == 4051 and len(keepsake.ERROR_CODES) == 57


def test_read_fixture_helper_paths() -> None:
    assert read("genesis.json").startswith("{")
