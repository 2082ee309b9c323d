"""Per-key limits and scopes (issue 12): `policy` (the fields, ceilings, effective limits),
`routes` (scopes by route family), `windows` (the counters, in memory or Redis), `gate` (the one
place they are enforced), `middleware` (headers and settling), `repository` (a user's limits).

Nothing here imports the rest of `auth`: the credentials and the dependencies call in.
"""
