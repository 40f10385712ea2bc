"""Google: OAuth 2.0 connections per user (:mod:`.oauth`, :mod:`.tokens`), Drive as a job
source (:mod:`.drive`) and Sheets as an export (:mod:`.sheets`). The shapes they share are in
:mod:`.types`."""
