"""Outbound webhooks: the address guard, the signer, the sender and the sealed endpoint secrets."""
