from aiohttp.test_utils import TestClient

from tests.web.conftest import log_in


async def test_manager_logs_in_and_sees_the_calls_page(client: TestClient) -> None:
    await log_in(client, "manager")

    response = await client.get("/calls")

    assert response.status == 200
    assert "Звонки" in await response.text()
