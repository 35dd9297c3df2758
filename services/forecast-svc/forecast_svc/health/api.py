from fastapi import APIRouter

router = APIRouter(tags=["funnel health", "attainment"])
