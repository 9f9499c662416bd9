"""``python -m tests.fakewechat``: serve the fake alone."""

from tests.fakewechat.fake import main

if __name__ == "__main__":
    main()
