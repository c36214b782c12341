-- System tables carry no org_id and no RLS: the CA private key and the request-nonce cache. The tenant role has no
-- business with them (they are read on the owner connection before tenancy is known), so a handler bug inside a
-- tenant transaction cannot read the CA key.
REVOKE ALL ON TABLE "cloud_ca" FROM palisade_app;
--> statement-breakpoint
REVOKE ALL ON TABLE "request_nonces" FROM palisade_app;
