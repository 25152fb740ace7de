import os, keepsake
home = os.environ.get("KEEPSAKE_DEV_HOME", "keepsake-dev")  # what `keepsake dev` creates
node = keepsake.Client(os.environ.get("KEEPSAKE_RPC", "http://127.0.0.1:8645"))
governor, issuer, reviewer = (keepsake.Keypair.load(f"{home}/keys/{k}.json") for k in ("governor", "issuer", "reviewer"))
node.ensure_registered(governor, issuer=issuer, reviewer=reviewer)  # governance, once
series = node.create_series(issuer, reviewer_key=reviewer, name="Apsaras", content=b"<artwork bytes>", max_supply=100,
                            metadata_uri="https://museum.example/apsaras.json", exist_ok=True)  # reviewed series
cert_id = node.mint(issuer, series, holder=keepsake.holder_id("5f2c9a", "alice@example.com"))  # waits for the commit
v = keepsake.verify_certificate(node.fetch_certificate(cert_id), f"{home}/genesis.json")  # offline; raises VerifyError
print(f"VALID {v.record.series_name} #{v.record.edition} of {v.record.max_supply}, checkpoint {v.checkpoint_height}")
