from web.auth import LoginThrottle


def test_one_user_mistyping_does_not_lock_out_the_office() -> None:
    throttle = LoginThrottle(limit=10, address_limit=50)

    for _ in range(10):
        throttle.failed("anna", "10.0.0.1")

    assert throttle.blocked("anna", "10.0.0.1")
    assert not throttle.blocked("boris", "10.0.0.1")  # same NAT address, other user


def test_many_logins_tried_from_one_address_are_stopped() -> None:
    throttle = LoginThrottle(limit=10, address_limit=50)

    for number in range(50):
        throttle.failed(f"user{number}", "10.0.0.9")

    assert throttle.blocked("someone-else", "10.0.0.9")
    assert not throttle.blocked("someone-else", "10.0.0.10")


def test_a_successful_login_clears_that_login_s_failures() -> None:
    throttle = LoginThrottle(limit=3, address_limit=50)
    for _ in range(3):
        throttle.failed("anna", "10.0.0.1")

    throttle.succeeded("anna")

    assert not throttle.blocked("anna", "10.0.0.1")
