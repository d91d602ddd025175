from ninja import NinjaAPI

api = NinjaAPI(title="CityKeeper API", version="1", urls_namespace="api-v1")
