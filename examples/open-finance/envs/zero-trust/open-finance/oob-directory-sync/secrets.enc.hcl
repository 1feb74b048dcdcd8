# Capstan secrets file, format 1. Names are clear, values are encrypted.
# Change it with `capstan secrets set` or `capstan secrets edit`: hand edits fail the MAC check.
version = 1

recipients = [
  "age1cxjrc4mcjlncqlqf6zyazakkzm2jgxw9ad6t8jyfzeahntuh05rqag9yg7",
]

data_key = "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBqUGNhbUZGdlBmQXZncW9BTHBua1d1RG5MdkpiZVh4a2gzRXdub0ErakNzCmx4ckxqaVRUQ3oyZUtMenVTV2pqbjk4dHFNaWE2Q0ZQUDMyNys1UzJ1NmMKLT4geTssbS1ncmVhc2UgIzttTktwJUAgbSAxYDp4cV0gcgp1cys1V2RCS2lGM1hJK2pTdkhQZTlnY3VsU0dicitIVXA2UmVWQkJQT3NZK2JKKzkwR1JvNjBMTU5MNGZKSURNCkVRCi0tLSBDa3krNkhhUG5IY2FnVjdSZ2lpM1ZXN0RDaytKTHRJT3NveStiSGp4TzVnCot39fo1zfRK7VGpUe0CDCdMnlYca4FEsEoNHbxRL38VHod5zvgs8zRBQCu1akDmmpmLKwhf+CCies+yRUr+MoM="

secrets = {
  values_sensitive_custom = "chacha20poly1305:bIJn0UcxdmNX4F0b:QBZDs9NfN/po6xP5SDJpnqNpzQMvi+FACgB2Wn9TRwszlaKEaYJeJYkAg4ZsxTWKhTGNss1LamCYSl+3khp9TkwUkBgqYKgvaa39++lBwMCfkMse1fiLwbTbc3U="
}

mac = "hmac-sha256:66c0c756c10c4ce7a749b563e046420c1dd72c5c3dc138b8a7cb5787cb589526"
