"""How the exporter proves who it is to Kafka and checks the brokers: TLS and SASL options for aiokafka."""

from broker_lag_exporter.config.sections import KafkaOptions
from broker_lag_exporter.tls import ClientTls, KeyPair


def client_tls(s: KafkaOptions) -> ClientTls:
    """Return the TLS settings of the options (files were checked when the options were loaded)."""
    pair = None
    if s.ssl_certfile is not None and s.ssl_keyfile is not None:
        password = s.ssl_keyfile_password.get_secret_value() if s.ssl_keyfile_password else None
        pair = KeyPair(s.ssl_certfile, s.ssl_keyfile, password)
    return ClientTls(
        cafile=s.ssl_cafile,
        pair=pair,
        server_hostname=s.ssl_server_hostname,
        insecure_skip_verify=s.ssl_insecure_skip_verify,
    )
