import pytest

from app.services.inventory import OutOfStock, reserve


def stock(db, product_id):
    return db.execute("SELECT stock FROM products WHERE id = ?", (product_id,)).fetchone()["stock"]


def test_reserve_takes_items_out_of_stock(db):
    reserve(db, [{"product_id": 1, "quantity": 2}])
    assert stock(db, 1) == 1


def test_reserve_is_all_or_nothing(db):
    with pytest.raises(OutOfStock):
        reserve(db, [{"product_id": 1, "quantity": 1}, {"product_id": 2, "quantity": 1}])
    assert stock(db, 1) == 3
