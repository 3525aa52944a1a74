# JWT bearer authentication (Microsoft.AspNetCore.Authentication.JwtBearer) with a symmetric signing key from
# configuration, AddAuthorization and RequireAuthorization; /token issues a token (as a dev token endpoint does),
# fetched once per round, that the requests to /secure present. Requests without a token get 401, which is expected.
TEMPLATE=web
PACKAGES=(Microsoft.AspNetCore.Authentication.JwtBearer@10.0.15)
before_round() { TOKEN=$(curl -s --max-time 15 "$BASE/token"); }
REQUESTS=('GET /' 'GET /secure' 'GET /secure -H "Authorization: Bearer $TOKEN"')
RUN_ARGS=(--Jwt:Key=compat-matrix-signing-key-of-at-least-32-bytes)
