def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json()["database"] == "ok"


def test_openapi(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert "/api/v1/authorizations" in doc["paths"]
    # api.md: POST /authorizations takes an optional Idempotency-Key header
    params = doc["paths"]["/api/v1/authorizations"]["post"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in params] == [("Idempotency-Key", "header", False)]


def test_login_as_each_role(client, login_as):
    for role in ("prescriber", "pharmacist", "patient", "admin"):
        me = client.get("/api/v1/me", headers=login_as(role)).get_json()
        assert me["role"] == role
