# Capstan secrets file, format 1. Names are clear, values are encrypted.
# Change it with `capstan secrets set` or `capstan secrets edit`: hand edits fail the MAC check.
version = 1

recipients = [
  "age1cxjrc4mcjlncqlqf6zyazakkzm2jgxw9ad6t8jyfzeahntuh05rqag9yg7",
]

data_key = "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBHM2s1VWJ6dlhPYUEzcExsVEVOcVJoOEg5WFlDUUN2TTk2eVFyeldXM1hvCjNZVWgxQm9Qd2NxeFVUVUM2RFpVNXIxeVNaTTdtVkx6OXUxZnpIUndLRW8KLT4gdyMtZ3JlYXNlICkleFxTKiIgJ01ALAp4dwotLS0gSnk2QkFsakRnazh2bld0TGhOOGovWko3WWd0djdSNXBxTTQ4RS9nK0NrdwoCCUOpU26ruWGlxp+gfYF9IoQzIjT7un9qMNGxHQ7XjTPVWKR2OH64ccKbKDqHMs+bTrj5bEz2KFKemak/62NK"

secrets = {
  values_sensitive_custom = "chacha20poly1305:/f69Frr3ziy5bUYI:VS0qHT9bQaRMG/VXCYya0BnII+2psXnoiIjpDpaQsbyPdBWmP0Psk6QoYEHn2D9OL+yiT7HDKw+/CR9C10DHy86GAhVs8BzOXVk="
}

mac = "hmac-sha256:a22d8687641d8c289afdbc1ca7bd078448214a8a3e255ead7d99503ed79f5a71"
