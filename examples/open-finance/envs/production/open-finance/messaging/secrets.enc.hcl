# Capstan secrets file, format 1. Names are clear, values are encrypted.
# Change it with `capstan secrets set` or `capstan secrets edit`: hand edits fail the MAC check.
version = 1

recipients = [
  "age1cxjrc4mcjlncqlqf6zyazakkzm2jgxw9ad6t8jyfzeahntuh05rqag9yg7",
]

data_key = "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBEdHY4SDlna2RzRzh1OU8wK1o4bFRoQTNxTHJBRlViMzRBR1FMMTVQZVY0CkJ2V05NUnc0VmwycXovVHhmTUlsRENYNHpWK3VYUDhNcFcwd2RIbWNtbWsKLT4gOlFaYUFcPzUtZ3JlYXNlIE15JStwWAoySVdzT2hwTDZDMnBCclVoeTBZd3dNYUFBclBVVEZUSk85REx1bWpCelhwWWFBU0o0a01BeGl5M2toQXQxbUJSCkc0QmVtZ3YxWU5VLwotLS0gTHlwOVB6S3J2S0FYNzZZdUk0U1hZc2F2SUFFYzJndkNwVEFIWlE4U1hsVQonK1qKBp2mGlxbtFWiq76SIDYAt1vGvP9L+mw56FUsMCe4EN0YE0vOH+0fAuiSNjX0i2Lb2PlRJtsV0BsEI/0E"

secrets = {
  values_sensitive_custom = "chacha20poly1305:fN5nPtnPl0wiQ3Ml:hIctZk5OvhLFLiS00Miv+LveF/aBNheByayPuTWeGXc1W2YEoROnDZxyocbdt2tBc78ifLhCGkMrA+zntHAMctG7cC/+Ulev+s9bCeRw0o7SACZVcg=="
}

mac = "hmac-sha256:fd09902c5b29854b75c7a85d8517a1ec7fd2d2c786daa4b337a8d79f4c390d15"
