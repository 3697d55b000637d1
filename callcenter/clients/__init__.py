"""Client base: companies, their contact persons and the phone index used by telephony."""
